import { describe, expect, test } from "bun:test";
import { formatIpv6, type Packet, PcapError, parsePcap } from "./pcap.ts";

// Hand-built frames: every byte below is what the wire would carry (checksums left zero: not checked).
const A = [0x52, 0x54, 0x00, 0x00, 0x00, 0x0a];
const B = [0x52, 0x54, 0x00, 0x00, 0x00, 0x0b];
const BCAST = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
const be16 = (n: number) => [(n >> 8) & 0xff, n & 0xff];
const eth = (dst: number[], src: number[], type: number, payload: number[]) => [
  ...dst,
  ...src,
  ...be16(type),
  ...payload,
];
const v4 = (
  proto: number,
  src: number[],
  dst: number[],
  l4: number[],
  o: { ihl?: number; frag?: number } = {},
) => {
  const ihl = o.ihl ?? 5;
  const header = [
    0x40 | ihl,
    0,
    ...be16(ihl * 4 + l4.length),
    0,
    1,
    ...be16(o.frag ?? 0),
    64,
    proto,
    0,
    0,
    ...src,
    ...dst,
    ...new Array((ihl - 5) * 4).fill(1), // IP options (NOPs)
  ];
  return [...header, ...l4];
};
const ports = (s: number, d: number, rest: number[] = []) => [...be16(s), ...be16(d), ...rest];
const v6addr = (tail: number[], head = [0xfe, 0x80]) => [
  ...head,
  ...new Array(16 - head.length - tail.length).fill(0),
  ...tail,
];
const v6 = (next: number, src: number[], dst: number[], payload: number[]) => [
  0x60,
  0,
  0,
  0,
  ...be16(payload.length),
  next,
  255,
  ...src,
  ...dst,
  ...payload,
];

/** An ARP packet for IPv4 over Ethernet. */
const arp = (op: number, sha: number[], spa: number[], tha: number[], tpa: number[]) => [
  ...be16(1),
  ...be16(0x0800),
  6,
  4,
  ...be16(op),
  ...sha,
  ...spa,
  ...tha,
  ...tpa,
];
/** An IPv6 hop-by-hop options header of 8 bytes (router alert + padding) before `next`. */
const hopByHop = (next: number) => [next, 0, 5, 2, 0, 0, 1, 0];

const frames: Array<{ frame: number[]; want: Omit<Packet, "time" | "length"> }> = [
  {
    // DHCPDISCOVER: 0.0.0.0:68 -> 255.255.255.255:67
    frame: eth(BCAST, A, 0x0800, v4(17, [0, 0, 0, 0], [255, 255, 255, 255], ports(68, 67, [0, 8, 0, 0]))),
    want: {
      dstMac: "ff:ff:ff:ff:ff:ff",
      srcMac: "52:54:00:00:00:0a",
      ethertype: 0x0800,
      protocol: "udp",
      src: "0.0.0.0",
      dst: "255.255.255.255",
      srcPort: 68,
      dstPort: 67,
    },
  },
  {
    // TCP SYN with 4 bytes of IP options (IHL 6): the ports are found after them
    frame: eth(
      B,
      A,
      0x0800,
      v4(6, [10, 203, 1, 10], [10, 203, 1, 1], ports(40000, 8443, new Array(16).fill(0)), { ihl: 6 }),
    ),
    want: {
      dstMac: "52:54:00:00:00:0b",
      srcMac: "52:54:00:00:00:0a",
      ethertype: 0x0800,
      protocol: "tcp",
      src: "10.203.1.10",
      dst: "10.203.1.1",
      srcPort: 40000,
      dstPort: 8443,
    },
  },
  {
    // ICMP echo request
    frame: eth(B, A, 0x0800, v4(1, [10, 203, 1, 1], [10, 203, 1, 2], [8, 0, 0, 0, 0, 1, 0, 1])),
    want: {
      dstMac: "52:54:00:00:00:0b",
      srcMac: "52:54:00:00:00:0a",
      ethertype: 0x0800,
      protocol: "icmp",
      src: "10.203.1.1",
      dst: "10.203.1.2",
      type: 8,
    },
  },
  {
    // A later IPv4 fragment: no transport header, so no ports
    frame: eth(B, A, 0x0800, v4(17, [10, 0, 0, 1], [10, 0, 0, 2], [1, 2, 3, 4, 5, 6, 7, 8], { frag: 185 })),
    want: {
      dstMac: "52:54:00:00:00:0b",
      srcMac: "52:54:00:00:00:0a",
      ethertype: 0x0800,
      protocol: "udp",
      src: "10.0.0.1",
      dst: "10.0.0.2",
    },
  },
  {
    // 802.1Q tag (VLAN 5) around IPv4 UDP
    frame: eth(B, A, 0x8100, [
      0,
      5,
      ...be16(0x0800),
      ...v4(17, [10, 0, 0, 1], [10, 0, 0, 2], ports(51820, 51820, [0, 8, 0, 0])),
    ]),
    want: {
      dstMac: "52:54:00:00:00:0b",
      srcMac: "52:54:00:00:00:0a",
      ethertype: 0x0800,
      protocol: "udp",
      src: "10.0.0.1",
      dst: "10.0.0.2",
      srcPort: 51820,
      dstPort: 51820,
    },
  },
  {
    // MLDv2 report: IPv6 hop-by-hop options header (8 bytes) then ICMPv6 type 143
    frame: eth(
      [0x33, 0x33, 0, 0, 0, 0x16],
      A,
      0x86dd,
      v6(
        0,
        v6addr([0x50, 0x54, 0x00, 0xff, 0xfe, 0x00, 0x00, 0x0a], [0xfe, 0x80]),
        v6addr([0x16], [0xff, 0x02]),
        [...hopByHop(58), 143, 0, 0, 0, 0, 0, 0, 1],
      ),
    ),
    want: {
      dstMac: "33:33:00:00:00:16",
      srcMac: "52:54:00:00:00:0a",
      ethertype: 0x86dd,
      protocol: "icmpv6",
      src: "fe80::5054:ff:fe00:a",
      dst: "ff02::16",
      type: 143,
    },
  },
  {
    // IPv6 UDP between two global addresses
    frame: eth(
      B,
      A,
      0x86dd,
      v6(
        17,
        v6addr([1], [0x20, 0x01, 0x0d, 0xb8]),
        v6addr([2], [0x20, 0x01, 0x0d, 0xb8]),
        ports(546, 547, [0, 8, 0, 0]),
      ),
    ),
    want: {
      dstMac: "52:54:00:00:00:0b",
      srcMac: "52:54:00:00:00:0a",
      ethertype: 0x86dd,
      protocol: "udp",
      src: "2001:db8::1",
      dst: "2001:db8::2",
      srcPort: 546,
      dstPort: 547,
    },
  },
  {
    // ARP request: who has 10.203.1.1, tell 10.203.1.10
    frame: eth(BCAST, A, 0x0806, arp(1, A, [10, 203, 1, 10], [0, 0, 0, 0, 0, 0], [10, 203, 1, 1])),
    want: {
      dstMac: "ff:ff:ff:ff:ff:ff",
      srcMac: "52:54:00:00:00:0a",
      ethertype: 0x0806,
      protocol: "arp",
      src: "10.203.1.10",
      dst: "10.203.1.1",
      type: 1,
    },
  },
  {
    // LLDP: an EtherType this reader does not decode
    frame: eth([0x01, 0x80, 0xc2, 0, 0, 0x0e], A, 0x88cc, [2, 7, 4]),
    want: {
      dstMac: "01:80:c2:00:00:0e",
      srcMac: "52:54:00:00:00:0a",
      ethertype: 0x88cc,
      protocol: "ether-0x88cc",
    },
  },
];

/** A pcap file: global header + one record per frame at t = 1700000000 + i seconds + 250 ms. */
function pcapFile(
  list: number[][],
  o: { little?: boolean; nano?: boolean; linktype?: number } = {},
): Uint8Array {
  const little = o.little ?? true;
  const size = 24 + list.reduce((n, f) => n + 16 + f.length, 0);
  const buf = new Uint8Array(size);
  const v = new DataView(buf.buffer);
  v.setUint32(0, o.nano ? 0xa1b23c4d : 0xa1b2c3d4, little);
  v.setUint16(4, 2, little);
  v.setUint16(6, 4, little);
  v.setUint32(16, 262144, little);
  v.setUint32(20, o.linktype ?? 1, little);
  let at = 24;
  list.forEach((f, i) => {
    v.setUint32(at, 1_700_000_000 + i, little);
    v.setUint32(at + 4, o.nano ? 250_000_000 : 250_000, little);
    v.setUint32(at + 8, f.length, little);
    v.setUint32(at + 12, f.length + 4, little); // the FCS is not captured
    buf.set(f, at + 16);
    at += 16 + f.length;
  });
  return buf;
}

describe("parsePcap", () => {
  const expected = frames.map(({ frame, want }, i) => ({
    time: 1_700_000_000.25 + i,
    length: frame.length + 4,
    ...want,
  }));

  test("little-endian microsecond file (tcpdump on x86): every frame decoded", () => {
    expect(parsePcap(pcapFile(frames.map((f) => f.frame)))).toEqual(expected);
  });

  test("big-endian nanosecond file: the same packets", () => {
    expect(
      parsePcap(
        pcapFile(
          frames.map((f) => f.frame),
          { little: false, nano: true },
        ),
      ),
    ).toEqual(expected);
  });

  test("a truncated last record (capture still being written) is left out", () => {
    const whole = pcapFile(frames.slice(0, 3).map((f) => f.frame));
    expect(parsePcap(whole.subarray(0, whole.length - 5))).toEqual(expected.slice(0, 2));
    expect(parsePcap(whole.subarray(0, 24))).toEqual([]);
  });

  test.each([
    [new Uint8Array(10), /global header: 10 bytes/],
    [
      new Uint8Array([0x0a, 0x0d, 0x0d, 0x0a, ...new Array(20).fill(0)]),
      /magic 0xa0d0d0a is not a pcap file \(pcapng\?\)/,
    ],
    [pcapFile([], { linktype: 113 }), /link type 113, expected 1 \(Ethernet\)/],
    [pcapFile([[1, 2, 3]]), /frame of 3 bytes/],
  ])("rejects %#", (buf, re) => {
    expect(() => parsePcap(buf)).toThrow(PcapError);
    expect(() => parsePcap(buf)).toThrow(re);
  });
});

describe("formatIpv6", () => {
  test.each([
    ["2001:db8:0:0:0:0:0:1", [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], "2001:db8::1"],
    ["all zero", new Array(16).fill(0), "::"],
    [
      "one zero group is not shortened",
      [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1],
      "2001:db8:0:1:1:1:1:1",
    ],
    ["the longer zero run wins", [0x20, 0x01, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1], "2001:0:0:1::1"],
  ])("%s", (_label, bytes, want) => {
    expect(formatIpv6(new Uint8Array(bytes))).toBe(want);
  });
});
