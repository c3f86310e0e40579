import { expect, test } from "bun:test";
import { canonicalIp, parseCidr } from "./ip-address.ts";

test("canonical IPv6 is RFC 5952 (as the kernel prints it); IPv4 stays dotted", () => {
  expect(canonicalIp("FD00:AAAA:0000:0000:0000:0000:0000:0001")).toBe("fd00:aaaa::1");
  expect(canonicalIp("fd12:3456:789a:1:0:0:0:a")).toBe("fd12:3456:789a:1::a");
  expect(canonicalIp("2001:db8:0:1:1:1:1:1")).toBe("2001:db8:0:1:1:1:1:1"); // one zero group stays
  expect(canonicalIp("2001:0:0:1:0:0:0:1")).toBe("2001:0:0:1::1"); // the longest run
  expect(canonicalIp("2001:db8:0:0:1:0:0:1")).toBe("2001:db8::1:0:0:1"); // the first of equal runs
  expect(canonicalIp("::")).toBe("::");
  expect(canonicalIp("::1")).toBe("::1");
  expect(canonicalIp("fe80::")).toBe("fe80::");
  expect(canonicalIp("::ffff:10.0.2.15")).toBe("::ffff:a00:20f");
  expect(canonicalIp("10.0.2.15")).toBe("10.0.2.15");
  expect(() => canonicalIp("fd00::1::2")).toThrow('"fd00::1::2" is not an IP address');
  expect(() => canonicalIp("wg0")).toThrow("is not an IP address");
});

test("CIDRs: the address kept, the network with host bits cleared (what wg show prints)", () => {
  expect(parseCidr("fd00:bbbb::5/64")).toEqual({
    family: 6,
    address: "fd00:bbbb::5",
    prefixLen: 64,
    text: "fd00:bbbb::/64",
  });
  expect(parseCidr("fd00:aaaa::2/128").text).toBe("fd00:aaaa::2/128");
  expect(parseCidr("10.99.0.7/24")).toEqual({
    family: 4,
    address: "10.99.0.7",
    prefixLen: 24,
    text: "10.99.0.0/24",
  });
  expect(parseCidr("10.99.0.7/21").text).toBe("10.99.0.0/21");
  expect(parseCidr("fd12:3456:789a:1::a/60").text).toBe("fd12:3456:789a::/60");
  expect(parseCidr("0.0.0.0/0").text).toBe("0.0.0.0/0");
  expect(parseCidr("::/0").text).toBe("::/0");
  for (const bad of [
    "10.0.0.1/33",
    "fd00::1/129",
    "fd00::1",
    "fd00::1/",
    "fd00::1/64/1",
    "x/8",
    "10.0.0.1/-1",
  ])
    expect(() => parseCidr(bad)).toThrow(`${JSON.stringify(bad)} is not an address/length`);
});
