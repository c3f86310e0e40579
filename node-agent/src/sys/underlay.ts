/** The node's underlay addresses: what other mesh members use as its WireGuard endpoint. */
import { networkInterfaces } from "node:os";

/** IPv4 addresses of the node's interfaces, without loopback and the mesh's own `wg-*` links. */
export function underlayAddresses(): string[] {
  const out: string[] = [];
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    if (name.startsWith("wg-")) continue;
    for (const a of addrs ?? []) if (a.family === "IPv4" && !a.internal) out.push(a.address);
  }
  return out.sort();
}
