/**
 * A network's pod subnet prefix: the IPv4 CIDR it lends to its flannel K3s clusters as their pod CIDR
 * (k3s `cluster-cidr`). Pure.
 */

/** An IPv4 CIDR /8../28 with no host bits set, canonical ("10.42.0.0/16"), or an error naming the problem. */
export function parsePodSubnetPrefix(text: string): { prefix: string } | { error: string } {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(text);
  if (!m) return { error: `"${text.slice(0, 64)}" is not an IPv4 CIDR (write it as 10.42.0.0/16)` };
  const octets = m.slice(1, 5).map(Number);
  const len = Number(m[5]);
  if (octets.some((o) => o > 255)) return { error: `"${text}" has an octet above 255` };
  if (len < 8 || len > 28)
    return { error: `"${text}": the length must be 8 to 28 (a node needs a /24 or more)` };
  const value = octets.reduce((a, o) => a * 256 + o, 0);
  const hostBits = 2 ** (32 - len);
  if (value % hostBits !== 0) return { error: `"${text}" has host bits set` };
  return { prefix: `${octets.join(".")}/${len}` };
}
