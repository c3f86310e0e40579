import { expect, test } from "bun:test";
import { parseIpv6 } from "./addresses.ts";
import { vipAddress, vipHash } from "./vips.ts";

test("a VIP is <prefix>:dead:beef:0:<16-bit hash of its name>", () => {
  const a = vipAddress("fd12:3456:789a:1::/64", "lab-k8s");
  const hash = vipHash("lab-k8s");
  expect(hash).toBeGreaterThanOrEqual(0);
  expect(hash).toBeLessThan(0x10000);
  expect(parseIpv6(a)).toEqual([0xfd12, 0x3456, 0x789a, 0x1, 0xdead, 0xbeef, 0, hash]);
  expect(a).toStartWith("fd12:3456:789a:1:dead:beef:");
  // Stable per name, different for another name (these two do not collide).
  expect(vipAddress("fd12:3456:789a:1::/64", "lab-k8s")).toBe(a);
  expect(vipAddress("fd12:3456:789a:1::/64", "other-k8s")).not.toBe(a);
});

test("sha256's first two bytes", () => {
  // sha256("abc") = ba7816bf...
  expect(vipHash("abc")).toBe(0xba78);
});

test("a prefix that is not a ULA /64 is refused", () => {
  expect(() => vipAddress("2001:db8::/64", "x")).toThrow(/^prefix: /);
});
