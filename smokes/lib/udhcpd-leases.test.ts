import { describe, expect, test } from "bun:test";
import { parseUdhcpdLeases } from "./udhcpd-leases.ts";

describe("parseUdhcpdLeases", () => {
  test("the file udhcpd 1.35 wrote for one client (bytes from a real run)", () => {
    // written at | seconds left | 10.203.250.38 | MAC | hostname (20) + pad (2)
    const hex = ["000000006b12fd38", "00000e0f", "0acbfa26", "a23757b02e5f", "00".repeat(22)];
    const bytes = Buffer.from(hex.join(""), "hex");
    expect(parseUdhcpdLeases(bytes)).toEqual([
      {
        mac: "a2:37:57:b0:2e:5f",
        address: "10.203.250.38",
        hostname: "",
        secondsLeft: 3599,
        writtenAt: 0x6b12fd38,
      },
    ]);
  });

  test("hostnames, several records, a partial record left out, empty file", () => {
    const rec = (ip: number[], mac: number[], host: string) => {
      const r = new Uint8Array(36);
      new DataView(r.buffer).setUint32(0, 60, false);
      r.set(ip, 4);
      r.set(mac, 8);
      r.set(new TextEncoder().encode(host), 14);
      return [...r];
    };
    const buf = new Uint8Array([
      ...[0, 0, 0, 0, 0, 0, 0, 1],
      ...rec([10, 203, 1, 10], [0x52, 0x54, 0, 1, 2, 3], "node-a"),
      ...rec([10, 203, 1, 11], [0x52, 0x54, 0, 4, 5, 6], "a-twenty-byte-name!!"),
      ...[1, 2, 3],
    ]);
    expect(parseUdhcpdLeases(buf).map((l) => [l.address, l.mac, l.hostname])).toEqual([
      ["10.203.1.10", "52:54:00:01:02:03", "node-a"],
      ["10.203.1.11", "52:54:00:04:05:06", "a-twenty-byte-name!!"],
    ]);
    expect(parseUdhcpdLeases(new Uint8Array())).toEqual([]);
    expect(() => parseUdhcpdLeases(new Uint8Array(3))).toThrow(/shorter than its 8-byte header/);
  });
});
