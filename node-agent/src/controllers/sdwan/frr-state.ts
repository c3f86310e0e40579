/**
 * What FRR routes in a node's VRFs, from its own JSON (parsed here, at the edge: a field of the wrong
 * type is left out, never trusted): the BGP sessions established per VRF (`show bgp vrf all ipv6
 * unicast summary json`) and, per VRF, the BGP routes zebra installed in that VRF's kernel table (`show
 * ipv6 route vrf <name> json`): learned from a peer (next hop on the VRF's own network interface) or
 * imported by a route leak (next hop on another VRF's interface, or named in another VRF).
 */

export interface VrfRouting {
  vrf: string;
  /** Peers whose session is Established, sorted. */
  established: string[];
  /** Installed BGP prefixes with next hops on this VRF's interface (from its peers), sorted. */
  learned: string[];
  /** Installed BGP prefixes with a next hop elsewhere (leaked in from another VRF), sorted. */
  imported: string[];
  /** Each installed BGP route as `prefix via <ip> dev <interface>[ vrf <vrf>]`, for the log. */
  hops?: string[];
}

const isObject = (x: unknown): x is Record<string, unknown> =>
  typeof x === "object" && x !== null && !Array.isArray(x);

function parseObject(json: string, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch (err) {
    throw new Error(`${what}: not JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  if (!isObject(v)) throw new Error(`${what}: not a JSON object`);
  return v;
}

/** Per VRF name: the peers in state Established. VRFs without a BGP instance are absent. */
export function establishedPeers(summaryJson: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [vrf, body] of Object.entries(parseObject(summaryJson, "bgp summary"))) {
    if (!isObject(body)) continue;
    const peers = isObject(body.peers) ? body.peers : {};
    out.set(
      vrf,
      Object.entries(peers)
        .filter(([, p]) => isObject(p) && p.state === "Established")
        .map(([addr]) => addr)
        .sort(),
    );
  }
  return out;
}

/** A JSON field as log text: strings (cut short), else "-". */
const str = (v: unknown) => (typeof v === "string" ? v.slice(0, 64) : "-");

/** The installed BGP routes of one VRF's table, split by where their next hops are. */
export function installedBgpRoutes(
  routesJson: string,
  vrf: { name: string; table: number; interfaceName: string },
): Pick<VrfRouting, "learned" | "imported" | "hops"> {
  const learned: string[] = [];
  const imported: string[] = [];
  const hopsText: string[] = [];
  for (const [prefix, entries] of Object.entries(parseObject(routesJson, `routes of ${vrf.name}`))) {
    if (!Array.isArray(entries)) continue;
    const route = entries.find(
      (e) => isObject(e) && e.protocol === "bgp" && e.installed === true && e.table === vrf.table,
    ) as Record<string, unknown> | undefined;
    if (!route) continue;
    const hops = Array.isArray(route.nexthops) ? route.nexthops.filter(isObject) : [];
    const elsewhere = hops.some(
      (h) =>
        (typeof h.vrf === "string" && h.vrf !== vrf.name) ||
        (typeof h.interfaceName === "string" && h.interfaceName !== vrf.interfaceName),
    );
    (elsewhere ? imported : learned).push(prefix);
    hopsText.push(
      `${prefix} via ${hops.map((h) => `${str(h.ip)} dev ${str(h.interfaceName)}${typeof h.vrf === "string" ? ` vrf ${str(h.vrf)}` : ""}`).join(", ")}`,
    );
  }
  return { learned: learned.sort(), imported: imported.sort(), hops: hopsText.sort() };
}

/** A VRF's routing as one line of text: what an event is emitted on a change of. */
export const routingKey = (r: VrfRouting) =>
  `${r.established.join(",")}|${r.learned.join(",")}|${r.imported.join(",")}`;
