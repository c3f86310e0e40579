/**
 * Membership credentials over the database: each member of a network holds at most one active
 * credential (an Ed25519-signed envelope naming its node, key, address and endpoints), revisions
 * increasing per member. Every write locks the member row first (FOR UPDATE), so issuers of one member
 * serialise and `ensureFresh` decides on what the previous writer committed. Events (`credentialIssued`,
 * `credentialRevoked`) are written in the same transaction and published after it commits.
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  canonicalEnvelope,
  EVENTS,
  type MembershipCredential,
  MembershipCredentialSchema,
  type MembershipEnvelope,
  parseEnvelope,
} from "@powernode/proto";
import { and, eq, lte, max, ne } from "drizzle-orm";
import { networkKeyContext } from "../ca/stored-keys.ts";
import type { Core } from "../core.ts";
import type { Db } from "../db/client.ts";
import { membershipCredentials, networkMembers, networks } from "../db/schema/index.ts";
import type { Tx } from "../desired-state/index.ts";
import { DomainError } from "../errors.ts";
import type { FleetEventRecord, NewEvent } from "../events/index.ts";
import { signEnvelope } from "./constellation.ts";

/** A stored credential. */
export type CredentialRow = typeof membershipCredentials.$inferSelect;

/** Default lifetime of a credential (seconds). */
export const CREDENTIAL_TTL_SECONDS = 3600;
/** Default age at which a credential is reissued (seconds). */
export const CREDENTIAL_REFRESH_SECONDS = 1800;
/** `nbf` is this many seconds before `iat`, for members whose clocks run behind. */
export const CREDENTIAL_CLOCK_SKEW_SECONDS = 30;

/** What the credential functions use of the hub's deps. */
export type CredentialDeps = Pick<Core, "db" | "events" | "now" | "keys">;

/**
 * Run inside the caller's transaction: events are inserted with `tx` and appended to `written`; the
 * caller publishes them (`deps.events.publish(written)`) once `tx` committed.
 */
export interface InTransaction {
  tx: Tx;
  written: FleetEventRecord[];
}

/** Options of {@link issueCredential} and {@link ensureFresh}. */
export interface IssueOptions {
  /** Lifetime in seconds (default {@link CREDENTIAL_TTL_SECONDS}). */
  ttlSeconds?: number;
  /** Seconds after issue when it is due for reissue (default {@link CREDENTIAL_REFRESH_SECONDS}). */
  refreshAfterSeconds?: number;
  within?: InTransaction;
}

/** What {@link ensureFresh} returns: the active credential, and whether this call issued it. */
export interface FreshCredential {
  credential: CredentialRow;
  issued: boolean;
}

type Member = typeof networkMembers.$inferSelect;
type Network = typeof networks.$inferSelect;
type Emit = (events: NewEvent[]) => Promise<void>;

/** Runs `fn` in the caller's transaction or a new one; events emitted in it are published after commit. */
async function transact<T>(
  deps: CredentialDeps,
  within: InTransaction | undefined,
  fn: (tx: Tx, emit: Emit) => Promise<T>,
): Promise<T> {
  if (within) {
    return fn(within.tx, async (evs) => {
      within.written.push(...(await deps.events.insert(within.tx, evs)));
    });
  }
  const written: FleetEventRecord[] = [];
  const out = await deps.db.transaction((tx) =>
    fn(tx, async (evs) => {
      written.push(...(await deps.events.insert(tx, evs)));
    }),
  );
  deps.events.publish(written);
  return out;
}

/** Locks the member row (FOR UPDATE) and reads its network; not_found when either is gone. */
async function lockMember(tx: Tx, memberId: string): Promise<{ member: Member; network: Network }> {
  const [member] = await tx
    .select()
    .from(networkMembers)
    .where(eq(networkMembers.id, memberId))
    .for("update");
  if (!member) throw new DomainError("not_found", `member ${memberId}: no such network member`);
  const [network] = await tx.select().from(networks).where(eq(networks.id, member.networkId));
  if (!network)
    throw new DomainError("not_found", `member ${memberId}: its network ${member.networkId} is gone`);
  return { member, network };
}

/** Checks the timing options: whole seconds, 0 < refresh < ttl. */
function timingOf(opts: IssueOptions): { ttl: number; refresh: number } {
  const ttl = opts.ttlSeconds ?? CREDENTIAL_TTL_SECONDS;
  const refresh = opts.refreshAfterSeconds ?? CREDENTIAL_REFRESH_SECONDS;
  if (!Number.isSafeInteger(ttl) || ttl <= 0)
    throw new DomainError("invalid_argument", `ttlSeconds: ${ttl} is not a positive whole number of seconds`);
  if (!Number.isSafeInteger(refresh) || refresh <= 0 || refresh >= ttl)
    throw new DomainError(
      "invalid_argument",
      `refreshAfterSeconds: ${refresh} is not a whole number of seconds between 0 and ttlSeconds (${ttl})`,
    );
  return { ttl, refresh };
}

/** The envelope's parts that come from the network and the member (all but the times and revision). */
function envelopeFor(
  network: Network,
  member: Member & { publicKey: string },
): Omit<MembershipEnvelope, "iat" | "nbf" | "exp" | "rev"> {
  return {
    iss: network.constellationHandle,
    sub: member.instanceId ?? member.id,
    aud: `net-${network.handle}`,
    wg_pubkey: member.publicKey,
    addr_v6: member.address,
    endpoints: [...member.endpoints],
  };
}

/** Issues under the member's lock: supersedes the active credential, writes revision max + 1. */
async function issueLocked(
  deps: CredentialDeps,
  tx: Tx,
  emit: Emit,
  locked: { member: Member; network: Network },
  opts: IssueOptions,
): Promise<CredentialRow> {
  const { member, network } = locked;
  const { ttl, refresh } = timingOf(opts);
  const publicKey = member.publicKey;
  if (!publicKey)
    throw new DomainError(
      "precondition",
      `member ${member.id} (${member.instanceId ? `node ${member.instanceId}` : "operator peer"}): has reported no WireGuard public key yet`,
    );
  const [last] = await tx
    .select({ revision: max(membershipCredentials.revision) })
    .from(membershipCredentials)
    .where(eq(membershipCredentials.memberId, member.id));
  const rev = Number(last?.revision ?? 0) + 1;
  const iat = Math.floor(deps.now().getTime() / 1000);
  const envelope: MembershipEnvelope = {
    ...envelopeFor(network, { ...member, publicKey }),
    iat,
    nbf: iat - CREDENTIAL_CLOCK_SKEW_SECONDS,
    exp: iat + ttl,
    rev,
  };
  const text = canonicalEnvelope(envelope);
  const at = new Date(iat * 1000);
  const superseded = await tx
    .update(membershipCredentials)
    .set({ status: "superseded", updatedAt: at })
    .where(and(eq(membershipCredentials.memberId, member.id), eq(membershipCredentials.status, "active")))
    .returning({ revision: membershipCredentials.revision });
  const [row] = await tx
    .insert(membershipCredentials)
    .values({
      networkId: network.id,
      memberId: member.id,
      revision: rev,
      status: "active",
      envelope: text,
      signature: signEnvelope(deps.keys.open(network.signingKeyPem, networkKeyContext(network.id)), text),
      notBefore: new Date(envelope.nbf * 1000),
      notAfter: new Date(envelope.exp * 1000),
      refreshAfter: new Date((iat + refresh) * 1000),
    })
    .returning();
  if (!row) throw new Error(`member ${member.id}: inserting credential revision ${rev} returned no row`);
  await emit([
    {
      ...EVENTS.credentialIssued,
      payload: {
        networkId: network.id,
        network: network.name,
        memberId: member.id,
        revision: rev,
        supersededRevision: superseded[0]?.revision ?? null,
        notAfter: row.notAfter.toISOString(),
      },
      opts: member.instanceId ? { nodeId: member.instanceId } : {},
    },
  ]);
  return row;
}

/**
 * Issues a new credential for a member: revision = the member's highest + 1, the active one (if any)
 * superseded, all in one transaction that locks the member row first. The member must have reported
 * its WireGuard public key (else a `precondition` DomainError naming it).
 */
export async function issueCredential(
  deps: CredentialDeps,
  memberId: string,
  opts: IssueOptions = {},
): Promise<CredentialRow> {
  return transact(deps, opts.within, async (tx, emit) =>
    issueLocked(deps, tx, emit, await lockMember(tx, memberId), opts),
  );
}

/** True when `row` still says what the member is now (issuer, audience, key, address, endpoints). */
function stillMatches(row: CredentialRow, network: Network, member: Member): boolean {
  if (!member.publicKey) return false;
  const parsed = parseEnvelope(row.envelope);
  if (!parsed.ok) return false;
  const e = parsed.value;
  const want = envelopeFor(network, { ...member, publicKey: member.publicKey });
  return (
    e.iss === want.iss &&
    e.sub === want.sub &&
    e.aud === want.aud &&
    e.wg_pubkey === want.wg_pubkey &&
    e.addr_v6 === want.addr_v6 &&
    e.endpoints.length === want.endpoints.length &&
    e.endpoints.every((x, i) => x === want.endpoints[i])
  );
}

/**
 * The member's active credential, unchanged while `now < refresh_after` and its envelope still names
 * the member's current public key, address and endpoints; otherwise a new one (see
 * {@link issueCredential}). Idempotent: decided under the member's row lock.
 */
export async function ensureFresh(
  deps: CredentialDeps,
  memberId: string,
  opts: IssueOptions = {},
): Promise<FreshCredential> {
  return transact(deps, opts.within, async (tx, emit) => {
    const locked = await lockMember(tx, memberId);
    const current = await activeCredential(tx, memberId);
    if (
      current &&
      deps.now().getTime() < current.refreshAfter.getTime() &&
      stillMatches(current, locked.network, locked.member)
    )
      return { credential: current, issued: false };
    return { credential: await issueLocked(deps, tx, emit, locked, opts), issued: true };
  });
}

/**
 * Revokes every credential of a member that is not revoked yet (the active one and superseded ones
 * still in their window), under the member's lock; returns how many. The member gets no new
 * credential until one is issued explicitly ({@link issueCredential} or {@link ensureFresh}).
 */
export async function revokeCredentials(
  deps: CredentialDeps,
  memberId: string,
  opts: { within?: InTransaction } = {},
): Promise<number> {
  return transact(deps, opts.within, async (tx, emit) => {
    const { member, network } = await lockMember(tx, memberId);
    const at = deps.now();
    const revoked = await tx
      .update(membershipCredentials)
      .set({ status: "revoked", revokedAt: at, updatedAt: at })
      .where(and(eq(membershipCredentials.memberId, memberId), ne(membershipCredentials.status, "revoked")))
      .returning({ revision: membershipCredentials.revision });
    if (revoked.length > 0) {
      await emit([
        {
          ...EVENTS.credentialRevoked,
          payload: {
            networkId: network.id,
            network: network.name,
            memberId,
            revoked: revoked.length,
            revisions: revoked.map((r) => r.revision).sort((a, b) => a - b),
          },
          opts: member.instanceId ? { nodeId: member.instanceId } : {},
        },
      ]);
    }
    return revoked.length;
  });
}

/** The member's active credential, if it has one. */
export async function activeCredential(db: Db | Tx, memberId: string): Promise<CredentialRow | undefined> {
  const [row] = await db
    .select()
    .from(membershipCredentials)
    .where(and(eq(membershipCredentials.memberId, memberId), eq(membershipCredentials.status, "active")));
  return row;
}

/** The wire form of a stored credential (its constellation handle is the envelope's `iss`). */
export function toWire(row: CredentialRow): MembershipCredential {
  const parsed = parseEnvelope(row.envelope);
  if (!parsed.ok)
    throw new Error(
      `credential ${row.id} (member ${row.memberId}): stored envelope is invalid: ${parsed.error}`,
    );
  return create(MembershipCredentialSchema, {
    envelope: row.envelope,
    signature: row.signature,
    constellationHandle: parsed.value.iss,
    revision: BigInt(row.revision),
    notBefore: timestampFromDate(row.notBefore),
    notAfter: timestampFromDate(row.notAfter),
    refreshAfter: timestampFromDate(row.refreshAfter),
  });
}

/**
 * The refresh job: ensure-freshes every active credential whose `refresh_after` has passed. Returns the
 * ids of the members that got a new credential (their peers need the new one). A member that cannot
 * be refreshed is logged and skipped; the others still are.
 */
export async function refreshDueCredentials(deps: CredentialDeps & Pick<Core, "log">): Promise<string[]> {
  const due = await deps.db
    .select({ memberId: membershipCredentials.memberId })
    .from(membershipCredentials)
    .where(
      and(eq(membershipCredentials.status, "active"), lte(membershipCredentials.refreshAfter, deps.now())),
    )
    .orderBy(membershipCredentials.memberId);
  const refreshed: string[] = [];
  for (const { memberId } of due) {
    try {
      if ((await ensureFresh(deps, memberId)).issued) refreshed.push(memberId);
    } catch (e) {
      deps.log.error("refreshing a membership credential failed", { memberId, error: e });
    }
  }
  return refreshed;
}
