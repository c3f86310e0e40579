/**
 * Heartbeat persistence, batched. Heartbeats are queued and written together by one statement that
 * locks the rows in id order (no deadlocks between concurrent batches), records each node's heartbeat,
 * moves pending/starting/stopped -> running, and returns the previous boot id and state. A new boot id
 * yields `system.heartbeat.received` (once per boot), a state change `system.instance.running`; those
 * events are written in one INSERT. Every caller's promise resolves only after its batch (and its events)
 * committed: an acknowledged heartbeat is stored.
 */
import { EVENTS } from "@powernode/proto";
import { sql } from "drizzle-orm";
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

  const writeBatch = async (batch: Pending[]): Promise<Map<string, HeartbeatResult>> => {
    // Last heartbeat per instance wins within a batch; ids sorted so row locks are taken in one order.
    const byId = new Map<string, HeartbeatInput>();
    for (const p of batch) byId.set(p.hb.instanceId, p.hb);
    const hbs = [...byId.values()].sort((a, b) => (a.instanceId < b.instanceId ? -1 : 1));
    const values = hbs.map(
      (h) =>
        sql`(${h.instanceId}::uuid, ${h.bootId}::text, ${h.agentVersion}::text, ${h.appliedVersion}::bigint, ${h.uptimeSeconds}::float8, ${h.zombieCount}::int, ${h.agentRssBytes}::bigint, ${h.childrenSpawned}::int, ${h.at.toISOString()}::timestamptz)`,
    );
    // The heartbeats and their events commit together; subscribers hear of the events after the commit.
    const { out, rows } = await db.transaction(async (tx) => {
      const result = await tx.execute(sql`
      WITH v(id, boot_id, agent_version, applied_version, uptime, zombies, rss, children, at) AS (VALUES ${sql.join(values, sql`, `)}),
      old AS (
        SELECT i.id, i.boot_id, i.state, i.desired_version FROM instances i
        WHERE i.id IN (SELECT id FROM v) AND i.state <> 'deleted'
        ORDER BY i.id FOR UPDATE
      )
      UPDATE instances AS i SET
        last_heartbeat_at = v.at, boot_id = v.boot_id, agent_version = v.agent_version,
        applied_version = v.applied_version, uptime_seconds = v.uptime, updated_at = v.at,
        zombie_count = v.zombies, agent_rss_bytes = v.rss, children_spawned = v.children,
        state = CASE WHEN old.state IN ('pending', 'starting', 'stopped') THEN 'running'::instance_state ELSE old.state END
      FROM v JOIN old ON old.id = v.id
      WHERE i.id = v.id
      RETURNING i.id, old.boot_id AS old_boot_id, old.state AS old_state, i.state AS new_state, i.desired_version`);
      const out = new Map<string, HeartbeatResult>();
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
      return { out, rows: await events.insert(tx, toEmit) };
    });
    events.publish(rows);
    return out;
  };

  const pump = () => {
    scheduled = false;
    while (queue.length > 0 && inFlight < maxInFlight) {
      const batch = queue.slice(0, MAX_BATCH);
      queue = queue.slice(MAX_BATCH);
      inFlight++;
      const started = performance.now();
      writeBatch(batch)
        .then(
          (results) => {
            opts.onBatch?.(batch.length, (performance.now() - started) / 1000);
            for (const p of batch) {
              const r = results.get(p.hb.instanceId);
              if (r) p.resolve(r);
              else p.reject(new DomainError("not_found", "instance: not found or deleted"));
            }
          },
          (e) => {
            for (const p of batch) p.reject(new Error("writing heartbeats", { cause: e }));
          },
        )
        .finally(() => {
          inFlight--;
          if (queue.length > 0) pump();
          else if (inFlight === 0) for (const f of idle.splice(0)) f();
        });
    }
  };

  return {
    record(hb) {
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
