/**
 * A small pure reader of classic pcap files (what `tcpdump -w` writes): the global header, then records;
 * each Ethernet frame decoded to addresses, protocol and ports (IPv4/IPv6 -> UDP/TCP/ICMP/ICMPv6, and
 * ARP). Enough for a smoke to say who talked to whom; not a dissector.
 */

import { formatIpv6 as formatGroups } from "../../hub/src/network/addresses.ts";

/** One captured frame. */
export interface Packet {
  /** Capture time, seconds since the epoch (fractional). */
  time: number;
  /** Length on the wire (the record may hold less: snaplen). */
  length: number;
  srcMac: string;
  dstMac: string;
  /** EtherType after any 802.1Q tags (0x0800 IPv4, 0x86dd IPv6, 0x0806 ARP). */
  ethertype: number;
  /** "tcp" | "udp" | "icmp" | "icmpv6" | "arp"; else `ip-<n>` (IP protocol n) or `ether-0x<type>`. */
  protocol: string;
  /** IP addresses (for ARP: sender and target protocol addresses). */
  src?: string;
  dst?: string;
  srcPort?: number;
  dstPort?: number;
  /** ICMP/ICMPv6 type (8 echo request, 0 echo reply; 128/129 for v6); ARP operation (1 request, 2 reply). */
  type?: number;
}

/** A pcap file that cannot be read; the message names the part. */
export class PcapError extends Error {
  constructor(message: string) {
    super(`pcap: ${message}`);
    this.name = "PcapError";
  }
}

const LINKTYPE_ETHERNET = 1;
const GLOBAL_HEADER = 24;
const RECORD_HEADER = 16;

const hex2 = (b: number) => b.toString(16).padStart(2, "0");
/** Byte / big-endian 16-bit word at `at` (0 past the end: callers check lengths first). */
const u8 = (b: Uint8Array, at: number) => b[at] ?? 0;
const u16 = (b: Uint8Array, at: number) => (u8(b, at) << 8) | u8(b, at + 1);

function mac(b: Uint8Array, at: number): string {
  return Array.from(b.subarray(at, at + 6), hex2).join(":");
}

function ipv4(b: Uint8Array, at: number): string {
  return Array.from(b.subarray(at, at + 4)).join(".");
}

/** RFC 5952 text of 16 bytes (the hub's formatter over the eight groups). */
export function formatIpv6(b: Uint8Array, at = 0): string {
  return formatGroups(Array.from({ length: 8 }, (_, i) => u16(b, at + 2 * i)));
}

const IP_PROTOCOLS: Record<number, string> = { 1: "icmp", 6: "tcp", 17: "udp", 58: "icmpv6" };
/** IPv6 extension headers that sit between the fixed header and the payload. */
const IPV6_EXTENSIONS = new Set([0, 43, 60]);
const IPV6_FRAGMENT = 44;

/** Ports or the ICMP type of a transport header at `at`, when the bytes are there. */
function transport(p: Packet, b: Uint8Array, at: number, proto: number): void {
  p.protocol = IP_PROTOCOLS[proto] ?? `ip-${proto}`;
  if (proto === 6 || proto === 17) {
    if (at + 4 > b.length) return;
    p.srcPort = u16(b, at);
    p.dstPort = u16(b, at + 2);
  } else if ((proto === 1 || proto === 58) && at < b.length) {
    p.type = u8(b, at);
  }
}

/** Decodes one Ethernet frame (`frame` = the record's captured bytes). */
export function decodeEthernet(frame: Uint8Array, time: number, length: number): Packet {
  if (frame.length < 14)
    throw new PcapError(`frame of ${frame.length} bytes: shorter than an Ethernet header`);
  const p: Packet = {
    time,
    length,
    dstMac: mac(frame, 0),
    srcMac: mac(frame, 6),
    ethertype: 0,
    protocol: "",
  };
  let at = 12;
  let type = u16(frame, at);
  while ((type === 0x8100 || type === 0x88a8) && at + 6 <= frame.length) {
    at += 4;
    type = u16(frame, at);
  }
  at += 2;
  p.ethertype = type;
  p.protocol = `ether-0x${type.toString(16).padStart(4, "0")}`;
  if (type === 0x0800 && at + 20 <= frame.length) {
    const ihl = (u8(frame, at) & 0x0f) * 4;
    const proto = u8(frame, at + 9);
    p.src = ipv4(frame, at + 12);
    p.dst = ipv4(frame, at + 16);
    const fragmentOffset = ((u8(frame, at + 6) & 0x1f) << 8) | u8(frame, at + 7);
    p.protocol = IP_PROTOCOLS[proto] ?? `ip-${proto}`;
    if (fragmentOffset === 0) transport(p, frame, at + ihl, proto);
  } else if (type === 0x86dd && at + 40 <= frame.length) {
    p.src = formatIpv6(frame, at + 8);
    p.dst = formatIpv6(frame, at + 24);
    let next = u8(frame, at + 6);
    let h = at + 40;
    let fragmented = false;
    while ((IPV6_EXTENSIONS.has(next) || next === IPV6_FRAGMENT) && h + 8 <= frame.length) {
      if (next === IPV6_FRAGMENT) {
        fragmented = ((u16(frame, h + 2) >> 3) & 0x1fff) !== 0;
        next = u8(frame, h);
        h += 8;
      } else {
        const len = (u8(frame, h + 1) + 1) * 8;
        next = u8(frame, h);
        h += len;
      }
    }
    p.protocol = IP_PROTOCOLS[next] ?? `ip-${next}`;
    if (!fragmented) transport(p, frame, h, next);
  } else if (type === 0x0806 && at + 28 <= frame.length) {
    p.protocol = "arp";
    p.type = u16(frame, at + 6);
    p.src = ipv4(frame, at + 14);
    p.dst = ipv4(frame, at + 24);
  }
  return p;
}

/**
 * Parses a pcap file's bytes: either byte order, micro- or nanosecond timestamps, Ethernet link type.
 * A truncated last record (a capture still being written) is left out; anything else malformed throws
 * a {@link PcapError} naming what.
 */
export function parsePcap(buf: Uint8Array): Packet[] {
  if (buf.length < GLOBAL_HEADER)
    throw new PcapError(`global header: ${buf.length} bytes, need ${GLOBAL_HEADER}`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const magicBe = view.getUint32(0, false);
  let little: boolean;
  let nano: boolean;
  if (magicBe === 0xa1b2c3d4 || magicBe === 0xa1b23c4d) {
    little = false;
    nano = magicBe === 0xa1b23c4d;
  } else {
    const magicLe = view.getUint32(0, true);
    if (magicLe !== 0xa1b2c3d4 && magicLe !== 0xa1b23c4d)
      throw new PcapError(`global header: magic 0x${magicBe.toString(16)} is not a pcap file (pcapng?)`);
    little = true;
    nano = magicLe === 0xa1b23c4d;
  }
  const major = view.getUint16(4, little);
  if (major !== 2) throw new PcapError(`global header: version ${major}.x, expected 2.4`);
  const linktype = view.getUint32(20, little) & 0x0fffffff;
  if (linktype !== LINKTYPE_ETHERNET)
    throw new PcapError(`global header: link type ${linktype}, expected 1 (Ethernet); capture on a bridge`);
  const packets: Packet[] = [];
  let at = GLOBAL_HEADER;
  while (at + RECORD_HEADER <= buf.length) {
    const sec = view.getUint32(at, little);
    const frac = view.getUint32(at + 4, little);
    const incl = view.getUint32(at + 8, little);
    const orig = view.getUint32(at + 12, little);
    if (incl > 262_144)
      throw new PcapError(`record at byte ${at}: captured length ${incl} is larger than any snaplen`);
    const start = at + RECORD_HEADER;
    if (start + incl > buf.length) break; // the last record is still being written
    const time = sec + frac / (nano ? 1e9 : 1e6);
    packets.push(decodeEthernet(buf.subarray(start, start + incl), time, orig));
    at = start + incl;
  }
  return packets;
}
