/**
 * Credential operations as the network sees them: revoking a member's credential removes it from its
 * peers' lists, issuing one (or refreshing a due one) puts it back or updates it; each is one network
 * change (a version bump and one message per affected member).
 */
import { and, eq } from "drizzle-orm";
import { type membershipCredentials, networkMembers } from "../db/schema/index.ts";
import type { Deps } from "../deps.ts";
import { DomainError } from "../errors.ts";
import { issueCredential, refreshDueCredentials, revokeCredentials } from "./credentials.ts";
import { changeNetwork, type MemberRow, resolveNetwork } from "./networks.ts";
import { peerChangeOf } from "./peers.ts";

type CredentialRow = typeof membershipCredentials.$inferSelect;

async function memberOf(deps: Pick<Deps, "db">, network: string, nodeId: string): Promise<MemberRow> {
  const n = await resolveNetwork(deps.db, network);
  const [m] = await deps.db
    .select()
    .from(networkMembers)
    .where(and(eq(networkMembers.networkId, n.id), eq(networkMembers.instanceId, nodeId)));
  if (!m) throw new DomainError("not_found", `node_id: ${nodeId} is not a member of ${n.name}`);
  return m;
}

/** Revokes every credential of a member; its peers drop it. Returns how many were revoked. */
export async function revokeMember(deps: Deps, network: string, nodeId: string): Promise<number> {
  const m = await memberOf(deps, network, nodeId);
  return changeNetwork(deps, m.networkId, async (tx, _network, within) => {
    const revoked = await revokeCredentials(deps, m.id, { within });
    const change = await peerChangeOf(tx, m.id);
    return { result: revoked, changes: revoked > 0 && change ? [change] : [] };
  });
}

/** Issues a fresh credential for a member (superseding the active one); its peers get the upsert. */
export async function reissueMember(deps: Deps, network: string, nodeId: string): Promise<CredentialRow> {
  const m = await memberOf(deps, network, nodeId);
  return changeNetwork(deps, m.networkId, async (tx, _network, within) => {
    const row = await issueCredential(deps, m.id, { within });
    const change = await peerChangeOf(tx, m.id);
    return { result: row, changes: change ? [change] : [] };
  });
}

/** The feature's job: refresh credentials past their refresh time and tell each member's peers. */
export async function refreshCredentialsJob(deps: Deps): Promise<void> {
  const refreshed = await refreshDueCredentials(deps);
  for (const memberId of refreshed) {
    const [m] = await deps.db.select().from(networkMembers).where(eq(networkMembers.id, memberId));
    if (!m) continue;
    await changeNetwork(deps, m.networkId, async (tx) => {
      const change = await peerChangeOf(tx, m.id);
      return { result: undefined, changes: change ? [change] : [] };
    });
  }
}
