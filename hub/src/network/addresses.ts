/**
 * Overlay addresses: a network's ULA /64 and each member's stable /128 in it. Pure: text in, text out,
 * every address in RFC 5952 form (lowercase, the longest run of zero groups as "::").
 */
import { createHash, randomBytes } from "node:crypto";

/** Eight 16-bit groups from an IPv6 address text; undefined when it is not one (no IPv4 tail form). */
export function parseIpv6(text: string): number[] | undefined {
  if (!/^[0-9a-fA-F:]+$/.test(text) || text.length > 39) return undefined;
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const part = (s: string) => (s === "" ? [] : s.split(":"));
  const head = part(halves[0] ?? "");
  const tail = halves.length === 2 ? part(halves[1] ?? "") : [];
  const fill = halves.length === 2 ? 8 - head.length - tail.length : 0;
  if (halves.length === 2 ? fill < 1 : head.length !== 8) return undefined;
  const groups = [...head, ...Array<string>(fill).fill("0"), ...tail];
  if (groups.some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) return undefined;
  return groups.map((g) => Number.parseInt(g, 16));
}

/** RFC 5952 text of eight groups. */
export function formatIpv6(groups: readonly number[]): string {
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(":");
  return `${hex.slice(0, best).join(":")}::${hex.slice(best + bestLen).join(":")}`;
}

/** A ULA /64 (fc00::/7), canonical ("fd12:3456:789a:1::/64"), or an error naming the problem. */
export function parseUlaPrefix(text: string): { prefix: string; groups: number[] } | { error: string } {
  const [addr, len, ...rest] = text.split("/");
  if (rest.length > 0 || len !== "64")
    return { error: `"${text}" is not a /64 (write it as fdXX:XXXX:XXXX:XXXX::/64)` };
  const g = parseIpv6(addr ?? "");
  if (!g) return { error: `"${addr}" is not an IPv6 address` };
  if (((g[0] ?? 0) & 0xfe00) !== 0xfc00)
    return { error: `"${text}" is not a unique local (fc00::/7) prefix` };
  if (g.slice(4).some((x) => x !== 0)) return { error: `"${text}" has host bits set` };
  const groups = [...g.slice(0, 4), 0, 0, 0, 0];
  return { prefix: `${formatIpv6(groups)}/64`, groups };
}

/** A random ULA /64: fd + 40 random bits (RFC 4193) + a random 16-bit subnet. */
export function randomUlaPrefix(): string {
  const b = randomBytes(7);
  const groups = [0xfd00 | (b[0] ?? 0), ((b[1] ?? 0) << 8) | (b[2] ?? 0), ((b[3] ?? 0) << 8) | (b[4] ?? 0)];
  groups.push(((b[5] ?? 0) << 8) | (b[6] ?? 0), 0, 0, 0, 0);
  return `${formatIpv6(groups)}/64`;
}

/**
 * The member address for a node: the prefix plus 64 host bits from sha256(node id, attempt). Stable for
 * a node (the same id gives the same address in the same network); `attempt` > 0 after a collision.
 * Never the all-zero host part (the subnet-router anycast address).
 */
export function memberAddress(prefix: string, nodeId: string, attempt = 0): string {
  const parsed = parseUlaPrefix(prefix);
  if ("error" in parsed) throw new Error(`prefix: ${parsed.error}`);
  const h = createHash("sha256").update(`${nodeId}/${attempt}`).digest();
  const host: number[] = [0, 1, 2, 3].map((i) => ((h[2 * i] ?? 0) << 8) | (h[2 * i + 1] ?? 0));
  if (!host.some((x) => x !== 0)) host[3] = 1;
  return formatIpv6([...parsed.groups.slice(0, 4), ...host]);
}

/** The 6-hex network handle: the interface is `wg-sdwan-<handle>` (15 characters, IFNAMSIZ - 1). */
export function networkHandle(networkId: string): string {
  return networkId.replaceAll("-", "").slice(0, 6);
}

export const interfaceName = (handle: string): string => `wg-sdwan-${handle}`;
