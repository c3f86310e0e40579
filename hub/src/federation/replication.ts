/**
 * Cluster members, the PostgreSQL side: a member hub's database is a physical streaming replica of its
 * parent's. Here: the parent's replication slot (so the WAL the member still needs is kept), the
 * `pg_basebackup` argv that makes the member's data directory (streaming WAL through that slot,
 * `-R` writing `primary_conninfo` and `standby.signal`), the lag as the parent sees it (bytes of WAL
 * not yet replayed, and PostgreSQL's own replay lag in seconds), recovery state, and promotion.
 * The connections are short-lived postgres.js clients on URLs the operator gives.
 */
import { EVENTS } from "@powernode/proto";
import { sql as drizzleSql } from "drizzle-orm";
import postgres from "postgres";
import { rowsOf } from "../db/client.ts";
import type { Deps } from "../deps.ts";
import { DomainError } from "../errors.ts";

const SLOT_RE = /^[a-z0-9_]{1,63}$/;

/** A replication slot name: 1-63 of a-z 0-9 _ (PostgreSQL's rule). */
export function slotField(field: string, raw: string): string {
  if (!SLOT_RE.test(raw))
    throw new DomainError(
      "invalid_argument",
      `${field}: "${raw.slice(0, 64)}" is not a slot name (a-z 0-9 _, at most 63)`,
    );
  return raw;
}

/** Runs `fn` on a one-connection client of `url`, closed after. */
export async function withSql<T>(url: string, fn: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 10 });
  try {
    return await fn(sql);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** Makes the physical slot `slot` on the parent (WAL reserved at once) unless it exists; emits slot_created when made. */
export async function createReplicationSlot(
  deps: Pick<Deps, "events">,
  parentUrl: string,
  slot: string,
): Promise<{ slot: string; created: boolean; restartLsn: string }> {
  const name = slotField("slot", slot);
  const made = await withSql(parentUrl, async (sql) => {
    const [have] = await sql<{ lsn: string | null }[]>`
      select restart_lsn::text as lsn from pg_replication_slots where slot_name = ${name}`;
    if (have) return { created: false, restartLsn: have.lsn ?? "" };
    const [row] = await sql<{ lsn: string }[]>`
      select lsn::text as lsn from pg_create_physical_replication_slot(${name}, true)`;
    return { created: true, restartLsn: row?.lsn ?? "" };
  });
  if (made.created)
    await deps.events.emit(EVENTS.federationReplicationSlotCreated, {
      slot: name,
      restart_lsn: made.restartLsn,
    });
  return { slot: name, ...made };
}

/**
 * `pg_basebackup` arguments for a member's data directory from `parentUrl` through `slot`. The member
 * connects with `application_name` = the slot, the name {@link requireSynchronousMember} waits for.
 */
export function basebackupArgv(o: { parentUrl: string; slot: string; dataDir: string }): string[] {
  const slot = slotField("slot", o.slot);
  const url = new URL(o.parentUrl);
  url.searchParams.set("application_name", slot);
  return ["-d", url.toString(), "-D", o.dataDir, "-S", slot, "-X", "stream", "-R", "-c", "fast", "--no-sync"];
}

/**
 * Makes the parent wait for the member on every commit (`synchronous_standby_names` = the slot, with
 * `synchronous_commit` on): a row the parent acknowledged is on the member's disk, so losing the parent
 * loses no acknowledged write. The price: while the member is down, writes on the parent wait (the
 * fencing rule in docs/federation.md says when an operator drops the requirement).
 */
export async function requireSynchronousMember(parentUrl: string, slot: string): Promise<void> {
  const name = slotField("slot", slot);
  await withSql(parentUrl, async (sql) => {
    await sql.unsafe(`alter system set synchronous_standby_names = '"${name}"'`);
    await sql`select pg_reload_conf()`;
  });
}

/** The member's lag as the parent sees it; `streaming` false when no walsender serves the slot. */
export interface ReplicationLag {
  bytes: number;
  seconds: number;
  streaming: boolean;
  /** The parent waits for this member on commit (`sync_state` = sync). */
  synchronous: boolean;
}

/** Every physical slot with its lag, as the parent sees it (shared with replication-metrics.ts). */
export const SLOTS_SQL = `select sl.slot_name as slot,
       pg_wal_lsn_diff(pg_current_wal_lsn(), coalesce(s.replay_lsn, sl.restart_lsn))::text as bytes,
       extract(epoch from s.replay_lag)::float8 as seconds, s.state, s.sync_state as sync
  from pg_replication_slots sl left join pg_stat_replication s on s.pid = sl.active_pid
 where sl.slot_type = 'physical'`;

/** A row of {@link SLOTS_SQL}. */
export interface SlotRow {
  slot: string;
  bytes: string | null;
  seconds: number | null;
  state: string | null;
  sync: string | null;
}

/** The row as a lag. */
export function toLag(r: SlotRow): ReplicationLag {
  return {
    bytes: Number(r.bytes ?? 0),
    seconds: r.seconds ?? 0,
    streaming: r.state === "streaming",
    synchronous: r.sync === "sync",
  };
}

export async function replicationLag(parentUrl: string, slot: string): Promise<ReplicationLag> {
  const name = slotField("slot", slot);
  return withSql(parentUrl, async (sql) => {
    const [r] = await sql.unsafe<SlotRow[]>(`${SLOTS_SQL} and sl.slot_name = $1`, [name]);
    if (!r) throw new DomainError("not_found", `slot: no replication slot ${name} on the parent`);
    return toLag(r);
  });
}

/** Every physical slot on this hub's own PostgreSQL with its member's lag (none on PGlite). */
export async function memberSlots(
  deps: Pick<Deps, "db" | "dbDriver">,
): Promise<(ReplicationLag & { slot: string })[]> {
  if (deps.dbDriver !== "postgres") return [];
  const rows = rowsOf<SlotRow>(await deps.db.execute(drizzleSql.raw(SLOTS_SQL)));
  return rows.map((r) => ({ slot: r.slot, ...toLag(r) }));
}

/** This hub's own PostgreSQL URL, or why cluster members cannot have one. */
export function ownDatabaseUrl(deps: Pick<Deps, "config" | "dbDriver">): string {
  const url = deps.config.databaseUrl;
  if (deps.dbDriver !== "postgres" || !url)
    throw new DomainError(
      "precondition",
      "cluster members replicate PostgreSQL: this hub runs on PGlite (set DATABASE_URL to a PostgreSQL server)",
    );
  return url;
}

/** True while the server at `url` is a standby (read-only, replaying WAL). */
export async function inRecovery(url: string): Promise<boolean> {
  return withSql(url, async (sql) => {
    const [r] = await sql<{ r: boolean }[]>`select pg_is_in_recovery() as r`;
    return r?.r === true;
  });
}

/** Promotes the standby at `url` (waits up to `waitSeconds`); emits promoted. */
export async function promote(
  deps: Pick<Deps, "events"> | undefined,
  url: string,
  waitSeconds = 60,
): Promise<void> {
  const ok = await withSql(url, async (sql) => {
    const [r] = await sql<{ ok: boolean }[]>`select pg_promote(true, ${waitSeconds}) as ok`;
    return r?.ok === true;
  });
  if (!ok)
    throw new DomainError(
      "unavailable",
      `promote: the server did not leave recovery within ${waitSeconds} s`,
    );
  await deps?.events.emit(EVENTS.federationReplicationPromoted, { wait_seconds: waitSeconds });
}
