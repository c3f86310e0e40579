/**
 * Addresses the hub derives from ids for routing inside a network: `n` 16-bit groups of sha256(text),
 * and each VRF member's router address (on its VRF device, announced by BGP, routed to it in its
 * peers' WireGuard allowed-ips).
 */
import { createHash } from "node:crypto";
import { formatIpv6 } from "./addresses.ts";

export const hashGroups = (text: string, n: number): number[] => {
  const b = createHash("sha256").update(text).digest();
  return Array.from({ length: n }, (_, i) => b.readUInt16BE(i * 2));
};

/**
 * A network's router prefix: a ULA /64 (fd00::/8) derived from its id, not its mesh /64, where its VRF
 * members' router addresses live. The way to one is known only from BGP, so a peer's router address in
 * a VRF's table proves the session carried it.
 */
export function routerPrefix(networkId: string): string {
  const [a = 0, b = 0, c = 0, d = 0] = hashGroups(`router-prefix:${networkId}`, 4);
  return `${formatIpv6([0xfd00 | (a & 0xff), b, c, d, 0, 0, 0, 0])}/64`;
}

/** A node's router address in a network's VRF: the router prefix and 64 bits from the node's id. */
export function routerAddress(networkId: string, nodeId: string): string {
  const [a = 0, b = 0, c = 0, d = 0] = hashGroups(`router-prefix:${networkId}`, 4);
  const host = hashGroups(`router-address:${nodeId}`, 4);
  // Never the subnet-router anycast address (all-zero interface id).
  if (!host.some((g) => g !== 0)) host[3] = 1;
  return formatIpv6([0xfd00 | (a & 0xff), b, c, d, ...host]);
}
