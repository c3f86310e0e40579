/**
 * The mesh part of a heartbeat (the network feature's heartbeat observer): each MeshReport is checked
 * at the edge, the member's observations are stored, and when the node's key, port or endpoints
 * changed its credential is re-issued and its peers get one upsert.
 */
import type { HeartbeatRequest, MeshReport } from "@powernode/proto";
import { and, eq } from "drizzle-orm";
import { networkMembers, type PeerObservationDocument } from "../db/schema/index.ts";
import type { Deps } from "../deps.ts";
import { DomainError } from "../errors.ts";
import { textField, uuidField } from "../rpc/fields.ts";
import { ensureFresh } from "./credentials.ts";
import { changeNetwork, setMemberKey } from "./networks.ts";
import { peerChangeOf } from "./peers.ts";

export const MAX_ENDPOINTS = 8;
const MAX_PEERS = 4096;
export const WG_KEY_RE = /^[A-Za-z0-9+/]{43}=$/;
/** "a.b.c.d:port" or "[v6]:port". */
export const ENDPOINT_RE = /^(?:\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-fA-F:]+\]):(\d{1,5})$/;

/** A report's key fields, checked; throws invalid_argument naming `meshes[i].<field>`. */
export function parseMeshReport(r: MeshReport, i: number) {
  const f = (name: string) => `meshes[${i}].${name}`;
  const networkId = uuidField(f("network_id"), r.networkId);
  if (r.publicKey !== "" && !WG_KEY_RE.test(r.publicKey))
    throw new DomainError("invalid_argument", `${f("public_key")}: not a base64 WireGuard key (32 bytes)`);
  if (r.listenPort > 65535)
    throw new DomainError("invalid_argument", `${f("listen_port")}: must be 1 to 65535`);
  if (r.endpoints.length > MAX_ENDPOINTS)
    throw new DomainError("invalid_argument", `${f("endpoints")}: more than ${MAX_ENDPOINTS}`);
  for (const [j, e] of r.endpoints.entries()) {
    const m = ENDPOINT_RE.exec(e);
    if (!m || Number(m[1]) < 1 || Number(m[1]) > 65535)
      throw new DomainError(
        "invalid_argument",
        `${f(`endpoints[${j}]`)}: "${e.slice(0, 64)}" is not host:port`,
      );
  }
  if (r.peers.length > MAX_PEERS)
    throw new DomainError("invalid_argument", `${f("peers")}: more than ${MAX_PEERS}`);
  const peers: PeerObservationDocument[] = r.peers.map((p, j) => {
    if (!WG_KEY_RE.test(p.publicKey))
      throw new DomainError("invalid_argument", `${f(`peers[${j}].public_key`)}: not a base64 WireGuard key`);
    return {
      publicKey: p.publicKey,
      nodeId: p.nodeId === "" ? "" : uuidField(f(`peers[${j}].node_id`), p.nodeId),
      endpoint: textField(f(`peers[${j}].endpoint`), p.endpoint, { max: 64 }),
      latestHandshakeUnix: Number(p.latestHandshakeUnix),
      rxBytes: Number(p.rxBytes),
      txBytes: Number(p.txBytes),
    };
  });
  return {
    networkId,
    publicKey: r.publicKey,
    listenPort: r.listenPort,
    endpoints: [...r.endpoints],
    peers,
    problem: textField(f("problem"), r.problem, { max: 512 }),
  };
}

/** Records every mesh report of one heartbeat. Reports for networks the node is not in are ignored. */
export async function recordMeshReports(deps: Deps, nodeId: string, req: HeartbeatRequest): Promise<void> {
  const reports = req.meshes.map(parseMeshReport);
  for (const r of reports) {
    const where = and(eq(networkMembers.networkId, r.networkId), eq(networkMembers.instanceId, nodeId));
    const [member] = await deps.db
      .update(networkMembers)
      .set({ observed: r.peers, observedAt: deps.now(), problem: r.problem === "" ? null : r.problem })
      .where(where)
      .returning();
    if (!member || r.publicKey === "" || r.listenPort === 0) continue;
    const keyChanged =
      member.publicKey !== r.publicKey ||
      member.listenPort !== r.listenPort ||
      JSON.stringify(member.endpoints) !== JSON.stringify(r.endpoints);
    if (!keyChanged) continue;
    await changeNetwork(deps, r.networkId, async (tx, _network, within) => {
      const [current] = await tx
        .select()
        .from(networkMembers)
        .where(eq(networkMembers.id, member.id))
        .for("update");
      if (!current) return { result: undefined, changes: [] };
      if (!(await setMemberKey(tx, current, r))) return { result: undefined, changes: [] };
      await ensureFresh(deps, member.id, { within });
      const change = await peerChangeOf(tx, member.id);
      return { result: undefined, changes: change ? [change] : [] };
    });
  }
}
