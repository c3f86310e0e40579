/**
 * IP addresses and CIDRs in one canonical text, so what the agent asks for compares equal to what the
 * kernel reports: IPv6 as RFC 5952 (lower case, no leading zeros, the longest run of zero groups as
 * `::`), which is how the kernel prints it; IPv4 dotted quad.
 */
import { isIPv4, isIPv6 } from "node:net";

/** A parsed CIDR: `address` as given (canonical), `network` with the host bits cleared. */
export interface Cidr {
  family: 4 | 6;
  address: string;
  prefixLen: number;
  /** `network/prefixLen`, host bits cleared: what WireGuard's allowed-ips and routes show. */
  text: string;
}

function bytesOf(ip: string): Uint8Array | undefined {
  if (isIPv4(ip)) return Uint8Array.from(ip.split(".").map(Number));
  if (!isIPv6(ip)) return undefined;
  let s = ip.toLowerCase();
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s)?.[1];
  if (v4) {
    const b = v4.split(".").map(Number) as [number, number, number, number];
    s = `${s.slice(0, -v4.length)}${((b[0] << 8) | b[1]).toString(16)}:${((b[2] << 8) | b[3]).toString(16)}`;
  }
  const [left = "", right] = s.split("::");
  const head = left === "" ? [] : left.split(":");
  const tail = right === undefined || right === "" ? [] : right.split(":");
  const groups = [...head, ...Array(8 - head.length - tail.length).fill("0"), ...tail];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const n = Number.parseInt(g, 16);
    out[i * 2] = n >> 8;
    out[i * 2 + 1] = n & 0xff;
  });
  return out;
}

function textOf(b: Uint8Array): string {
  if (b.length === 4) return [...b].join(".");
  const g = Array.from({ length: 8 }, (_, i) => ((b[i * 2] as number) << 8) | (b[i * 2 + 1] as number));
  let best = -1;
  let bestLen = 1; // a single zero group is not compressed (RFC 5952 4.2.2)
  for (let i = 0; i < 8; i++) {
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  const hex = (xs: number[]) => xs.map((x) => x.toString(16)).join(":");
  return best < 0 ? hex(g) : `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

/** An IPv6 address's eight 16-bit groups; throws on anything else. */
export function ipv6Groups(ip: string): number[] {
  const b = isIPv6(ip) ? bytesOf(ip) : undefined;
  if (!b) throw new Error(`${JSON.stringify(ip)} is not an IPv6 address`);
  return Array.from({ length: 8 }, (_, i) => ((b[i * 2] as number) << 8) | (b[i * 2 + 1] as number));
}

/** The canonical text of an IPv4 or IPv6 address; throws on anything else. */
export function canonicalIp(ip: string): string {
  const b = bytesOf(ip);
  if (!b) throw new Error(`${JSON.stringify(ip)} is not an IP address`);
  return textOf(b);
}

/** Parses `addr/len` (IPv4 or IPv6); throws naming the text when it is not one. */
export function parseCidr(cidr: string): Cidr {
  const m = /^([^/]+)\/([0-9]{1,3})$/.exec(cidr);
  const b = m ? bytesOf(m[1] as string) : undefined;
  const len = Number(m?.[2]);
  if (!b || len > b.length * 8) throw new Error(`${JSON.stringify(cidr)} is not an address/length`);
  const net = b.map((x, i) => {
    const bits = Math.min(8, Math.max(0, len - i * 8));
    return x & ((0xff << (8 - bits)) & 0xff);
  });
  return {
    family: b.length === 4 ? 4 : 6,
    address: textOf(b),
    prefixLen: len,
    text: `${textOf(net)}/${len}`,
  };
}
