import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { decodeMessage, IE, IpfixError, MAX_DOMAINS, MAX_TEMPLATES, TemplateCache } from "./ipfix-decode.ts";

/** Real messages from Open vSwitch 3.1 (testdata/ovs-3.1-ipfix.hex says how they were captured). */
const capture = readFileSync(join(import.meta.dir, "testdata/ovs-3.1-ipfix.hex"), "utf8")
  .split("\n")
  .filter((l) => l !== "" && !l.startsWith("#"))
  .map((l) => Uint8Array.from(Buffer.from(l, "hex")));

/** A message: header (domain 42) and the given sets, each `[setId, body bytes]`. */
function message(sets: [number, number[]][], domain = 42): Uint8Array {
  const body = sets.flatMap(([id, b]) => [
    id >> 8,
    id & 255,
    (b.length + 4) >> 8,
    (b.length + 4) & 255,
    ...b,
  ]);
  const len = 16 + body.length;
  return Uint8Array.from([0, 10, len >> 8, len & 255, 0, 0, 0, 1, 0, 0, 0, 9, 0, 0, 0, domain, ...body]);
}
const u16 = (n: number) => [n >> 8, n & 255];
/** Template 300: sourceIPv4, destinationIPv4, protocol, packetDeltaCount (8 bytes). */
const template300 = [
  ...u16(300),
  ...u16(4),
  ...u16(IE.sourceIPv4Address),
  ...u16(4),
  ...u16(IE.destinationIPv4Address),
  ...u16(4),
  ...u16(IE.protocolIdentifier),
  ...u16(1),
  ...u16(IE.packetDeltaCount),
  ...u16(8),
];
const record300 = [10, 0, 0, 1, 10, 0, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0, 3];

describe("decodeMessage on Open vSwitch 3.1's own export", () => {
  test("its templates are kept per domain and its data sets decode to the bridge's IPv6 packets", () => {
    const cache = new TemplateCache();
    const decoded = capture.map((m) => decodeMessage(m, cache));
    // The bridge's domain (its obs_domain_id), and domain 0 for the exporter's own statistics.
    expect([...new Set(decoded.map((m) => m.domain))].sort()).toEqual([0, 7]);
    expect(decoded.reduce((n, m) => n + m.templates, 0)).toBeGreaterThan(50);
    const flows = decoded.flatMap((m) => m.flows);
    expect(flows.length).toBeGreaterThan(0);
    expect(decoded.flatMap((m) => m.unknownSets)).toEqual([]);
    for (const f of flows) {
      expect(f.ethernetType).toBe(0x86dd);
      expect(f.protocol).toBe(58);
      expect(f.destination).toMatch(/^ff02::/);
      expect(f.packets).toBeGreaterThan(0n);
      expect(f.octets).toBeGreaterThan(0n);
    }
    // Options data (exporter statistics) is counted, not taken for flows.
    expect(decoded.reduce((n, m) => n + m.optionRecords, 0)).toBeGreaterThan(0);
  });

  test("data before its template is reported as an unknown set, not guessed", () => {
    const last = capture.at(-1);
    if (!last) throw new Error("empty capture");
    const m = decodeMessage(last, new TemplateCache());
    expect(m.flows).toEqual([]);
    expect(m.unknownSets.length).toBeGreaterThan(0);
  });
});

describe("decodeMessage on built messages", () => {
  test("a template and its data in one message; IPv4 addresses and counters", () => {
    const cache = new TemplateCache();
    const m = decodeMessage(
      message([
        [2, template300],
        [300, [...record300, ...record300, 0, 0]],
      ]),
      cache,
    );
    expect(m.templates).toBe(1);
    expect(m.flows).toEqual([
      {
        templateId: 300,
        source: "10.0.0.1",
        destination: "10.0.0.2",
        protocol: 1,
        ethernetType: 0,
        packets: 3n,
        octets: 0n,
      },
      expect.objectContaining({ packets: 3n }),
    ]);
    // Kept for the next message of the domain, not for another domain.
    expect(decodeMessage(message([[300, record300]]), cache).flows).toHaveLength(1);
    expect(decodeMessage(message([[300, record300]], 43), cache).unknownSets).toEqual([300]);
  });

  test("a withdrawn template (field count 0) no longer decodes", () => {
    const cache = new TemplateCache();
    decodeMessage(message([[2, template300]]), cache);
    const m = decodeMessage(
      message([
        [2, [...u16(300), 0, 0]],
        [300, record300],
      ]),
      cache,
    );
    expect(m.unknownSets).toEqual([300]);
    expect(cache.size).toBe(0);
  });

  test("variable-length fields and enterprise fields are skipped by their lengths", () => {
    const t = [
      ...u16(301),
      ...u16(3),
      ...u16(0x8000 | 5),
      ...u16(65535),
      0,
      0,
      0x9a,
      0x3e,
      ...u16(IE.protocolIdentifier),
      ...u16(1),
      ...u16(IE.sourceIPv6Address),
      ...u16(16),
    ];
    const v6 = [0xfd, 0, ...Array(13).fill(0), 1];
    const m = decodeMessage(
      message([
        [2, t],
        [301, [3, 0xaa, 0xbb, 0xcc, 58, ...v6]],
      ]),
      new TemplateCache(),
    );
    expect(m.flows).toEqual([expect.objectContaining({ protocol: 58, source: "fd00::1" })]);
  });

  test("hostile encodings are skipped, not parsed: a 60 KB protocol field costs nothing", () => {
    const t = [...u16(303), ...u16(1), ...u16(IE.protocolIdentifier), ...u16(65535)];
    const value = Array(60_000).fill(0xff);
    const cache = new TemplateCache();
    decodeMessage(message([[2, t]]), cache);
    const body = Uint8Array.from([
      0,
      10,
      0,
      0,
      0,
      0,
      0,
      1,
      0,
      0,
      0,
      9,
      0,
      0,
      0,
      42,
      ...u16(303),
      ...u16(4 + 3 + value.length),
      255,
      ...u16(value.length),
      ...value,
    ]);
    new DataView(body.buffer).setUint16(2, body.length);
    const started = performance.now();
    const m = decodeMessage(body, cache);
    expect(performance.now() - started).toBeLessThan(100);
    expect(m.flows).toEqual([expect.objectContaining({ protocol: 0 })]);
  });

  test("an exporter's templates and domains are bounded: beyond them new ones are refused", () => {
    const cache = new TemplateCache();
    const one = (id: number) => [...u16(id), ...u16(1), ...u16(IE.protocolIdentifier), ...u16(1)];
    const ids = Array.from({ length: MAX_TEMPLATES + 10 }, (_, i) => 256 + i);
    let kept = 0;
    let refused = 0;
    for (let i = 0; i < ids.length; i += 100) {
      const m = decodeMessage(message([[2, ids.slice(i, i + 100).flatMap(one)]]), cache);
      kept += m.templates;
      refused += m.templatesRefused;
    }
    expect([kept, refused, cache.size]).toEqual([MAX_TEMPLATES, 10, MAX_TEMPLATES]);
    const fresh = new TemplateCache();
    for (let d = 1; d <= MAX_DOMAINS + 1; d++) decodeMessage(message([[2, one(256)]], d), fresh);
    expect(fresh.size).toBe(MAX_DOMAINS);
  });

  const bad: [string, Uint8Array, RegExp][] = [
    ["a short header", Uint8Array.from([0, 10, 0]), /message header/],
    ["NetFlow v9", Uint8Array.from([0, 9, 0, 16, ...Array(12).fill(0)]), /version 9/],
    [
      "a length past the datagram",
      Uint8Array.from([0, 10, 0, 99, ...Array(12).fill(0)]),
      /message length 99/,
    ],
    ["a set overrunning the message", message([[2, template300]]).subarray(0, 30), /message length/],
    ["a reserved set id", message([[7, [0, 0, 0, 0]]]), /set id 7/],
    [
      "a template id below 256",
      message([[2, [...u16(12), ...u16(1), ...u16(4), ...u16(1)]]]),
      /template id 12/,
    ],
    ["a truncated template", message([[2, template300.slice(0, 10)]]), /template 300's field 1/],
    [
      "a data record cut in a variable field",
      message([
        [2, [...u16(302), ...u16(1), ...u16(IE.sourceIPv4Address), ...u16(65535)]],
        [302, [9, 1]],
      ]),
      /template 302's field 0/,
    ],
  ];
  for (const [what, bytes, err] of bad)
    test(`refuses ${what} with an IpfixError, keeping no templates`, () => {
      const cache = new TemplateCache();
      expect(() => decodeMessage(bytes, cache)).toThrow(IpfixError);
      expect(() => decodeMessage(bytes, cache)).toThrow(err);
      expect(cache.size).toBe(0);
    });
});
