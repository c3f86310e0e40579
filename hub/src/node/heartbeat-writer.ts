/**
 * Heartbeat persistence, batched. Heartbeats are queued and written together; every statement locks
 * the rows in id order (no deadlocks between concurrent batches or hubs). Most heartbeats repeat their
 * node's boot id on a running node: one statement without a transaction records those and produces no
 * event (the common case costs one round trip). The rest of the batch goes through a transaction whose
 * statement records each heartbeat, moves pending/starting/stopped -> running and returns the previous
 * boot id and state: a new boot id yields `system.heartbeat.received` (once per boot), a state change
 * `system.instance.running`, written in one INSERT in that transaction. Every caller's promise resolves
 * only after its rows (and their events) committed: an acknowledged heartbeat is stored.
 *
 * One node's data never fails another node's call: a row that would not fit its column is refused alone
 * before it is queued ({@link heartbeatRowProblem}; the RPC edge checks the same ranges first, naming the
 * wire field), and a batch the database refuses for its data (SQLSTATE class 22, 23) is split in halves
 * and written again until the offending rows are alone; only those are refused (`invalid_argument`).
 */
import { EVENTS } from "@powernode/proto";
import { type SQL, sql } from "drizzle-orm";
import { type Db, rowsOf } from "../db/client.ts";
import { DomainError } from "../errors.ts";
import type { EventLog, NewEvent } from "../events/index.ts";

/** What one heartbeat stores. */
export interface HeartbeatInput {
  instanceId: string;
  bootId: string;
  agentVersion: string;
  appliedVersion: number;
  uptimeSeconds: number;
  zombieCount: number;
  agentRssBytes: number;
  childrenSpawned: number;
  at: Date;
}

/** Result of recording a heartbeat. */
export interface HeartbeatResult {
  desiredVersion: number;
  firstOfBoot: boolean;
}

/** Batches heartbeat writes; see the module comment. */
export interface HeartbeatWriter {
  record(hb: HeartbeatInput): Promise<HeartbeatResult>;
  /** Writes what is queued and waits for in-flight batches. */
  drain(): Promise<void>;
}

interface Pending {
  hb: HeartbeatInput;
  resolve: (r: HeartbeatResult) => void;
  reject: (e: unknown) => void;
}

interface Row extends Record<string, unknown> {
  id: string;
  old_boot_id: string | null;
  old_state: string;
  new_state: string;
  desired_version: string | number;
}

const MAX_BATCH = 500;
const MAX_IN_FLIGHT = 4;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const INT4_MAX = 2_147_483_647;

const isCount = (v: number, max: number) => Number.isInteger(v) && v >= 0 && v <= max;
const isText = (v: string) => v.length <= 1024 && !v.includes("\u0000") && v.isWellFormed();

/**
 * Why `hb` cannot be stored (its column and the reason), or undefined: the columns' types and ranges
 * (int4 counts, bigint kept below 2^53, float8 finite, text without NUL), so that a statement carrying
 * it with other nodes' rows cannot fail because of it.
 */
export function heartbeatRowProblem(hb: HeartbeatInput): string | undefined {
  if (!UUID_RE.test(hb.instanceId)) return "instance_id: not a UUID";
  if (hb.bootId === "" || !isText(hb.bootId)) return "boot_id: empty, too long, NUL or not UTF-8";
  if (!isText(hb.agentVersion)) return "agent_version: too long, NUL or not UTF-8";
  if (!isCount(hb.appliedVersion, Number.MAX_SAFE_INTEGER)) return "applied_version: out of range";
  if (!isCount(hb.agentRssBytes, Number.MAX_SAFE_INTEGER)) return "agent_rss_bytes: out of range";
  if (!isCount(hb.zombieCount, INT4_MAX)) return "zombie_count: out of range";
  if (!isCount(hb.childrenSpawned, INT4_MAX)) return "children_spawned: out of range";
  if (!Number.isFinite(hb.uptimeSeconds) || hb.uptimeSeconds < 0)
    return "uptime_seconds: not a finite number >= 0";
  if (!(hb.at instanceof Date) || Number.isNaN(hb.at.getTime())) return "at: not a date";
  return undefined;
}

/** The SQLSTATE of a database error (drizzle wraps the driver's error in `cause`). */
function sqlState(e: unknown): string | undefined {
  for (let cur = e, i = 0; cur && i < 5; i++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Data exceptions (22) and integrity violations (23): the rows' fault, not the database's. */
function isDataError(e: unknown): boolean {
  const state = sqlState(e);
  return state !== undefined && (state.startsWith("22") || state.startsWith("23"));
}

/** The columns every heartbeat sets, from the recordset `v`. */
const SET_FROM_V = sql.raw(`last_heartbeat_at = v.at, boot_id = v.boot_id, agent_version = v.agent_version,
        applied_version = v.applied_version, uptime_seconds = v.uptime, updated_at = v.at,
        zombie_count = v.zombies, agent_rss_bytes = v.rss, children_spawned = v.children`);

/**
 * The batch as one JSON parameter read by jsonb_to_recordset: the statement text is the same for every
 * batch, so building it costs nothing per row and the server parses one value.
 */
function recordsOf(hbs: readonly HeartbeatInput[]): SQL {
  const json = JSON.stringify(
    hbs.map((h) => ({
      id: h.instanceId,
      boot_id: h.bootId,
      agent_version: h.agentVersion,
      applied_version: h.appliedVersion,
      uptime: h.uptimeSeconds,
      zombies: h.zombieCount,
      rss: h.agentRssBytes,
      children: h.childrenSpawned,
      at: h.at.toISOString(),
    })),
  );
  return sql`SELECT * FROM jsonb_to_recordset(${json}::text::jsonb) AS x(id uuid, boot_id text, agent_version text,
          applied_version bigint, uptime float8, zombies int, rss bigint, children int, at timestamptz)`;
}

/** Creates the writer. `maxInFlight` bounds concurrent batch statements (PGlite serialises them anyway). */
export function createHeartbeatWriter(
  db: Db,
  events: EventLog,
  opts: { maxInFlight?: number; onBatch?: (rows: number, seconds: number) => void } = {},
): HeartbeatWriter {
  let queue: Pending[] = [];
  let inFlight = 0;
  const maxInFlight = opts.maxInFlight ?? MAX_IN_FLIGHT;
  let scheduled = false;
  const idle: (() => void)[] = [];

  /** Steady state (same boot, already running): one statement, no transaction, no events. */
  const writeSteady = async (hbs: HeartbeatInput[], out: Map<string, HeartbeatResult>) => {
    const result = await db.execute(sql`
      WITH v AS (${recordsOf(hbs)}),
      old AS (
        SELECT i.id FROM instances i JOIN v ON v.id = i.id
        WHERE i.boot_id = v.boot_id AND i.state NOT IN ('pending', 'starting', 'stopped', 'deleted')
        ORDER BY i.id FOR UPDATE OF i
      )
      UPDATE instances AS i SET ${SET_FROM_V}
      FROM v JOIN old ON old.id = v.id
      WHERE i.id = v.id
      RETURNING i.id, i.desired_version`);
    for (const r of rowsOf<{ id: string; desired_version: string | number }>(result))
      out.set(r.id, { desiredVersion: Number(r.desired_version), firstOfBoot: false });
  };

  /** A new boot or a state change: the heartbeats and their events commit together. */
  const writeWithEvents = async (hbs: HeartbeatInput[], out: Map<string, HeartbeatResult>) => {
    const byId = new Map(hbs.map((h) => [h.instanceId, h]));
    // Subscribers hear of the events after the commit.
    const rows = await db.transaction(async (tx) => {
      const result = await tx.execute(sql`
      WITH v AS (${recordsOf(hbs)}),
      old AS (
        SELECT i.id, i.boot_id, i.state, i.desired_version FROM instances i
        WHERE i.id IN (SELECT id FROM v) AND i.state <> 'deleted'
        ORDER BY i.id FOR UPDATE
      )
      UPDATE instances AS i SET ${SET_FROM_V},
        state = CASE WHEN old.state IN ('pending', 'starting', 'stopped') THEN 'running'::instance_state ELSE old.state END
      FROM v JOIN old ON old.id = v.id
      WHERE i.id = v.id
      RETURNING i.id, old.boot_id AS old_boot_id, old.state AS old_state, i.state AS new_state, i.desired_version`);
      const toEmit: NewEvent[] = [];
      for (const r of rowsOf<Row>(result)) {
        const hb = byId.get(r.id);
        if (!hb) continue;
        const firstOfBoot = r.old_boot_id !== hb.bootId;
        out.set(r.id, { desiredVersion: Number(r.desired_version), firstOfBoot });
        const opts = { nodeId: r.id, correlationId: hb.bootId };
        if (firstOfBoot) {
          toEmit.push({
            ...EVENTS.heartbeatReceived,
            payload: {
              bootId: hb.bootId,
              agentVersion: hb.agentVersion,
              uptimeSeconds: hb.uptimeSeconds,
              previousBootId: r.old_boot_id,
            },
            opts,
          });
        }
        if (r.old_state !== r.new_state) {
          toEmit.push({
            ...EVENTS.instanceRunning,
            payload: { from: r.old_state, bootId: hb.bootId },
            opts,
          });
        }
      }
      return events.insert(tx, toEmit);
    });
    events.publish(rows);
  };

  /**
   * Most heartbeats repeat their node's boot and state: those are written by one statement without a
   * transaction (3 round trips fewer); the rest (a new boot, a state change, a deleted or unknown
   * instance) go through the transaction that also writes their events.
   */
  const writeBatch = async (batch: Pending[]): Promise<Map<string, HeartbeatResult>> => {
    // Last heartbeat per instance wins within a batch; ids sorted so row locks are taken in one order.
    const byId = new Map<string, HeartbeatInput>();
    for (const p of batch) byId.set(p.hb.instanceId, p.hb);
    const hbs = [...byId.values()].sort((a, b) => (a.instanceId < b.instanceId ? -1 : 1));
    const out = new Map<string, HeartbeatResult>();
    await writeSteady(hbs, out);
    const rest = hbs.filter((h) => !out.has(h.instanceId));
    if (rest.length > 0) await writeWithEvents(rest, out);
    return out;
  };
  /**
   * Writes `batch` and settles each caller. A batch the database refuses for its data is split in
   * halves, written in order (a later heartbeat of a node still wins), until the offending rows are
   * alone: only their callers see the refusal.
   */
  const settle = async (batch: Pending[]): Promise<void> => {
    const started = performance.now();
    let results: Map<string, HeartbeatResult>;
    try {
      results = await writeBatch(batch);
    } catch (e) {
      if (batch.length > 1 && isDataError(e)) {
        const mid = Math.ceil(batch.length / 2);
        await settle(batch.slice(0, mid));
        await settle(batch.slice(mid));
        return;
      }
      const err = isDataError(e)
        ? new DomainError(
            "invalid_argument",
            `heartbeat: refused by the database (SQLSTATE ${sqlState(e)})`,
            {
              cause: e,
            },
          )
        : new Error("writing heartbeats", { cause: e });
      for (const p of batch) p.reject(err);
      return;
    }
    opts.onBatch?.(batch.length, (performance.now() - started) / 1000);
    for (const p of batch) {
      const r = results.get(p.hb.instanceId);
      if (r) p.resolve(r);
      else p.reject(new DomainError("not_found", "instance: not found or deleted"));
    }
  };

  const pump = () => {
    scheduled = false;
    while (queue.length > 0 && inFlight < maxInFlight) {
      const batch = queue.slice(0, MAX_BATCH);
      queue = queue.slice(MAX_BATCH);
      inFlight++;
      settle(batch).finally(() => {
        inFlight--;
        if (queue.length > 0) pump();
        else if (inFlight === 0) for (const f of idle.splice(0)) f();
      });
    }
  };

  return {
    record(hb) {
      const problem = heartbeatRowProblem(hb);
      if (problem) return Promise.reject(new DomainError("invalid_argument", problem));
      return new Promise<HeartbeatResult>((resolve, reject) => {
        queue.push({ hb, resolve, reject });
        if (queue.length >= MAX_BATCH) pump();
        else if (!scheduled) {
          scheduled = true;
          setImmediate(pump);
        }
      });
    },
    drain() {
      if (queue.length === 0 && inFlight === 0) return Promise.resolve();
      return new Promise<void>((resolve) => {
        idle.push(resolve);
        pump();
      });
    },
  };
}
