/**
 * The federation_peers rows and their state machine: proposed -> accepted -> active -> revoked
 * (proposed and accepted may also go straight to revoked; revoked is terminal). The acceptance token is
 * consumed by one atomic UPDATE ... WHERE token_used_at IS NULL, so of two concurrent accepts exactly
 * one wins; the loser learns why with a code of its own: foreign (never issued here) Unauthenticated,
 * reused AlreadyExists, expired FailedPrecondition, revoked before use PermissionDenied.
 */
import { and, asc, eq, gt, isNull, or } from "drizzle-orm";
import { hashToken } from "../auth/tokens.ts";
import type { Db } from "../db/client.ts";
import { federationPeers } from "../db/schema/index.ts";
import { DomainError } from "../errors.ts";
import { isUuid, nameField } from "../rpc/fields.ts";

export type PeerRow = typeof federationPeers.$inferSelect;
export type PeerState = PeerRow["state"];

/** Acceptance tokens live 7 days. */
export const ACCEPTANCE_TOKEN_TTL_MS = 7 * 86_400_000;

/** Where a peer's sealed client key is stored, as sealed text names it. */
export function peerKeyContext(peerId: string): string {
  return `federation-peer:${peerId}`;
}

/** Inserts a proposer row for `tokenHash`; a taken name is already_exists. */
export async function insertProposal(
  db: Db,
  input: { name: string; remoteUrl: string; token: string },
  now = new Date(),
): Promise<PeerRow> {
  const name = nameField("name", input.name, "peer name");
  if (await findPeerByName(db, name)) throw new DomainError("already_exists", `name: peer ${name} exists`);
  const [row] = await db
    .insert(federationPeers)
    .values({
      name,
      role: "proposer",
      state: "proposed",
      remoteUrl: input.remoteUrl,
      tokenHash: hashToken(input.token),
      tokenExpiresAt: new Date(now.getTime() + ACCEPTANCE_TOKEN_TTL_MS),
    })
    .returning();
  if (!row) throw new Error("inserting a federation peer: no row returned");
  return row;
}

/** Consumes an acceptance token (proposer side) or throws the reason it cannot be used. */
export async function consumeAcceptanceToken(db: Db, token: string, now = new Date()): Promise<PeerRow> {
  const tokenHash = hashToken(token);
  const [won] = await db
    .update(federationPeers)
    .set({ tokenUsedAt: now, updatedAt: now })
    .where(
      and(
        eq(federationPeers.tokenHash, tokenHash),
        isNull(federationPeers.tokenUsedAt),
        eq(federationPeers.state, "proposed"),
        gt(federationPeers.tokenExpiresAt, now),
      ),
    )
    .returning();
  if (won) return won;
  const [row] = await db.select().from(federationPeers).where(eq(federationPeers.tokenHash, tokenHash));
  if (!row) throw new DomainError("unauthenticated", "token: not issued by this hub (foreign or mistyped)");
  if (row.tokenUsedAt)
    throw new DomainError("already_exists", `token: already used at ${row.tokenUsedAt.toISOString()}`);
  if (row.state === "revoked") throw new DomainError("permission", "token: its peering was revoked");
  throw new DomainError(
    "precondition",
    `token: expired at ${row.tokenExpiresAt?.toISOString() ?? "?"} (propose the peering again)`,
  );
}

/** Applies `set` to the row if it is in one of `from`; returns the updated row or throws naming the state. */
export async function transition(
  db: Pick<Db, "update" | "select">,
  id: string,
  from: readonly PeerState[],
  set: Partial<typeof federationPeers.$inferInsert>,
  now = new Date(),
): Promise<PeerRow> {
  const [row] = await db
    .update(federationPeers)
    .set({ ...set, updatedAt: now })
    .where(and(eq(federationPeers.id, id), or(...from.map((s) => eq(federationPeers.state, s)))))
    .returning();
  if (row) return row;
  const [cur] = await db.select().from(federationPeers).where(eq(federationPeers.id, id));
  if (!cur) throw new DomainError("not_found", `peer ${id}: not found`);
  throw new DomainError("precondition", `peer ${cur.name}: is ${cur.state}, not ${from.join(" or ")}`);
}

/** Inserts an acceptor row (this hub accepted the other hub's token). */
export async function insertAcceptance(
  db: Db,
  values: Omit<typeof federationPeers.$inferInsert, "role" | "state">,
): Promise<PeerRow> {
  const name = nameField("name", values.name, "peer name");
  if (await findPeerByName(db, name)) throw new DomainError("already_exists", `name: peer ${name} exists`);
  const [row] = await db
    .insert(federationPeers)
    .values({ ...values, name, role: "acceptor", state: "accepted" })
    .returning();
  if (!row) throw new Error("inserting a federation peer: no row returned");
  return row;
}

async function findPeerByName(db: Db, name: string): Promise<PeerRow | undefined> {
  const [row] = await db.select().from(federationPeers).where(eq(federationPeers.name, name));
  return row;
}

/** The peer named by id or name, or not_found naming `field`. */
export async function getPeer(db: Db, ref: string, field = "peer"): Promise<PeerRow> {
  const r = ref.trim();
  if (r === "") throw new DomainError("invalid_argument", `${field}: required (an id or a name)`);
  const [row] = await db
    .select()
    .from(federationPeers)
    .where(isUuid(r) ? eq(federationPeers.id, r.toLowerCase()) : eq(federationPeers.name, r));
  if (!row) throw new DomainError("not_found", `${field}: no peer ${r.slice(0, 100)}`);
  return row;
}

export async function listPeers(db: Db): Promise<PeerRow[]> {
  return db.select().from(federationPeers).orderBy(asc(federationPeers.createdAt));
}

/** The row whose issued certificate has `serial` (normalised hex), if any. */
export async function peerBySerial(db: Db, serial: string): Promise<PeerRow | undefined> {
  const [row] = await db.select().from(federationPeers).where(eq(federationPeers.issuedSerial, serial));
  return row;
}
