import { expect, test } from "bun:test";
import fc from "fast-check";
import {
  formatIpv6,
  interfaceName,
  memberAddress,
  networkHandle,
  parseIpv6,
  parseUlaPrefix,
  randomUlaPrefix,
} from "./addresses.ts";

test("IPv6 text round-trips through groups in RFC 5952 form", () => {
  expect(formatIpv6(parseIpv6("fd00:0:0:1::1") ?? [])).toBe("fd00:0:0:1::1");
  expect(formatIpv6(parseIpv6("FD00:0000:0000:0000:0000:0000:0000:0001") ?? [])).toBe("fd00::1");
  expect(formatIpv6([1, 0, 2, 0, 0, 3, 0, 0])).toBe("1:0:2::3:0:0");
  expect(parseIpv6("1::2::3")).toBeUndefined();
  expect(parseIpv6("1:2:3:4:5:6:7")).toBeUndefined();
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 }), (g) => {
      expect(parseIpv6(formatIpv6(g))).toEqual(g);
    }),
  );
});

test("a ULA /64 is checked and canonical; other prefixes are refused with the reason", () => {
  expect(parseUlaPrefix("fd12:3456:789a:0001::/64")).toEqual({
    prefix: "fd12:3456:789a:1::/64",
    groups: [0xfd12, 0x3456, 0x789a, 1, 0, 0, 0, 0],
  });
  expect(parseUlaPrefix("2001:db8::/64")).toEqual({
    error: '"2001:db8::/64" is not a unique local (fc00::/7) prefix',
  });
  expect(parseUlaPrefix("fd00::/48")).toMatchObject({ error: expect.stringContaining("not a /64") });
  expect(parseUlaPrefix("fd00::1/64")).toMatchObject({ error: expect.stringContaining("host bits") });
  const r = parseUlaPrefix(randomUlaPrefix());
  expect("prefix" in r && r.prefix.startsWith("fd")).toBe(true);
});

test("member addresses are stable per node, inside the prefix, and differ per attempt", () => {
  const p = "fd12:3456:789a:1::/64";
  const id = "0b5c2f1e-7d7a-4c55-9a3e-2f9c1d7a8b10";
  const a = memberAddress(p, id);
  expect(memberAddress(p, id)).toBe(a);
  expect(a.startsWith("fd12:3456:789a:1:")).toBe(true);
  expect(memberAddress(p, id, 1)).not.toBe(a);
  expect(interfaceName(networkHandle(id))).toBe("wg-sdwan-0b5c2f");
  expect(interfaceName(networkHandle(id)).length).toBeLessThanOrEqual(15);
});
