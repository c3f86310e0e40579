/**
 * FRR's configuration for one node's VRFs, as a pure function: a `vrf` definition per VRF, then per
 * VRF a `router bgp <asn> vrf <name>` whose neighbours are the network's other VRF members (their
 * overlay addresses, iBGP over the mesh), redistributing the VRF's connected prefixes; a route leak
 * from network A into B becomes `import vrf <A's vrf>` in a second block of B's after every VRF's own
 * (so A's instance exists with its own AS number first), filtered by a route map that
 * admits only the leak's prefix. Each node's router address (on its VRF device, see routerAddress) is one
 * of those connected prefixes. Logs go to stdout: the agent supervises the daemons and keeps their lines.
 * Deterministic: the same inputs give the same bytes.
 */
import { createHash } from "node:crypto";

export interface FrrVrf {
  vrfName: string;
  networkId: string;
  networkName: string;
  asn: number;
  /** The network's other members with a VRF in it: their overlay addresses. */
  neighbors: readonly string[];
}

export interface FrrLeak {
  fromVrf: string;
  toVrf: string;
  prefix: string;
}

/** The private 4-byte AS range (RFC 6996): 4200000000 to 4294967294. */
export const PRIVATE_ASN_MIN = 4_200_000_000;
export const PRIVATE_ASN_MAX = 4_294_967_294;

/** A network's AS number when none is set: derived from its id, in the private 4-byte range. */
export function derivedAsn(networkId: string): number {
  const h = createHash("sha256").update(networkId).digest().readUInt32BE(0);
  return PRIVATE_ASN_MIN + (h % (PRIVATE_ASN_MAX - PRIVATE_ASN_MIN + 1));
}

/** A BGP router id (dotted quad) from the node's id: stable, never 0.0.0.0. */
export function routerId(nodeId: string): string {
  const b = createHash("sha256").update(nodeId).digest();
  return [(b[0] ?? 0) | 1, b[1] ?? 0, b[2] ?? 0, b[3] ?? 0].join(".");
}

const leakList = (l: FrrLeak) => `leak-${l.fromVrf}-${l.toVrf}`;
const importMap = (vrf: string) => `import-into-${vrf}`;

export function frrConfig(
  node: { id: string; name: string },
  vrfs: readonly FrrVrf[],
  leaks: readonly FrrLeak[],
): string {
  if (vrfs.length === 0) return "";
  const sorted = [...vrfs].sort((a, b) => (a.vrfName < b.vrfName ? -1 : 1));
  const names = new Set(sorted.map((v) => v.vrfName));
  // Only leaks between two VRFs of this node can be imported here.
  const local = [...leaks]
    .filter((l) => names.has(l.fromVrf) && names.has(l.toVrf) && l.fromVrf !== l.toVrf)
    .sort((a, b) => (leakList(a) + a.prefix < leakList(b) + b.prefix ? -1 : 1));
  const out = [
    `! written by the powernode hub for ${node.name}: edits are replaced`,
    "frr defaults datacenter",
    `hostname ${node.name}`,
    "log stdout informational",
    "!",
  ];
  for (const v of sorted) out.push(`vrf ${v.vrfName}`, "exit-vrf", "!");
  for (const [i, l] of local.entries())
    out.push(`ipv6 prefix-list ${leakList(l)} seq ${(i + 1) * 5} permit ${l.prefix} le 128`);
  if (local.length > 0) out.push("!");
  for (const to of sorted) {
    const into = local.filter((l) => l.toVrf === to.vrfName);
    if (into.length === 0) continue;
    for (const [i, l] of into.entries())
      out.push(
        `route-map ${importMap(to.vrfName)} permit ${(i + 1) * 10}`,
        ` match ipv6 address prefix-list ${leakList(l)}`,
        "exit",
      );
    out.push("!");
  }
  const rid = routerId(node.id);
  for (const v of sorted) {
    const neighbors = [...new Set(v.neighbors)].sort();
    out.push(
      `router bgp ${v.asn} vrf ${v.vrfName}`,
      ` ! network ${v.networkName} (${v.networkId})`,
      ` bgp router-id ${rid}`,
      " no bgp default ipv4-unicast",
      " no bgp ebgp-requires-policy",
      ...neighbors.map((n) => ` neighbor ${n} remote-as internal`),
      " !",
      " address-family ipv6 unicast",
      "  redistribute connected",
      ...neighbors.map((n) => `  neighbor ${n} activate`),
      " exit-address-family",
      "exit",
      "!",
    );
  }
  // Imports last: `import vrf X` makes X's BGP instance if it does not exist yet, with the importing
  // instance's AS number, and X's own `router bgp <its AS> vrf X` would then be refused.
  for (const v of sorted) {
    const into = local.filter((l) => l.toVrf === v.vrfName);
    if (into.length === 0) continue;
    out.push(
      `router bgp ${v.asn} vrf ${v.vrfName}`,
      " address-family ipv6 unicast",
      ...[...new Set(into.map((l) => l.fromVrf))].map((f) => `  import vrf ${f}`),
      `  import vrf route-map ${importMap(v.vrfName)}`,
      " exit-address-family",
      "exit",
      "!",
    );
  }
  return `${out.join("\n")}\n`;
}
