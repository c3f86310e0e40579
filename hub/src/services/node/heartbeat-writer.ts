/**
 * Heartbeat persistence. The first heartbeat of a boot (or after a cache miss) takes the slow path: a
 * locked UPDATE that moves pending/starting/stopped -> running and emits `system.heartbeat.received`
 * once per boot. Later heartbeats are queued and written in batches with one UPDATE ... FROM (VALUES ...);
 * every caller's promise resolves only after its batch committed, so an acknowledged heartbeat is stored.
 */
import { eq, sql } from "drizzle-orm";
import type { Db } from "../../db/client.ts";
import { instances } from "../../db/schema/index.ts";
import type { EventLog } from "../../events/index.ts";

/** What one heartbeat stores. */
export interface HeartbeatInput {
  instanceId: string;
  bootId: string;
  agentVersion: string;
  appliedVersion: number;
  uptimeSeconds: number;
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
  /** Drops what is cached for an instance (state or desired version changed elsewhere). */
  forget(instanceId: string): void;
  /** Writes what is queued and waits for in-flight batches. */
  drain(): Promise<void>;
}

interface Pending {
  hb: HeartbeatInput;
  resolve: () => void;
  reject: (e: unknown) => void;
}

const MAX_BATCH = 500;
const MAX_IN_FLIGHT = 4;

/** Creates the writer. `maxInFlight` bounds concurrent batch UPDATEs (PGlite serialises them anyway). */
export function createHeartbeatWriter(
  db: Db,
  events: EventLog,
  opts: { maxInFlight?: number } = {},
): HeartbeatWriter {
  const known = new Map<string, { bootId: string; desiredVersion: number }>();
  let queue: Pending[] = [];
  let inFlight = 0;
  const maxInFlight = opts.maxInFlight ?? MAX_IN_FLIGHT;
  let scheduled = false;
  const idle: (() => void)[] = [];

  const writeBatch = async (batch: Pending[]) => {
    // Last heartbeat per instance wins within a batch.
    const byId = new Map<string, HeartbeatInput>();
    for (const p of batch) byId.set(p.hb.instanceId, p.hb);
    const rows = [...byId.values()].map(
      (h) =>
        sql`(${h.instanceId}::uuid, ${h.bootId}::text, ${h.agentVersion}::text, ${h.appliedVersion}::bigint, ${h.uptimeSeconds}::float8, ${h.at.toISOString()}::timestamptz)`,
    );
    await db.execute(sql`
      UPDATE instances AS i SET
        last_heartbeat_at = v.at, boot_id = v.boot_id, agent_version = v.agent_version,
        applied_version = v.applied_version, uptime_seconds = v.uptime, updated_at = v.at
      FROM (VALUES ${sql.join(rows, sql`, `)}) AS v(id, boot_id, agent_version, applied_version, uptime, at)
      WHERE i.id = v.id`);
  };

  const pump = () => {
    scheduled = false;
    while (queue.length > 0 && inFlight < maxInFlight) {
      const batch = queue.slice(0, MAX_BATCH);
      queue = queue.slice(MAX_BATCH);
      inFlight++;
      writeBatch(batch)
        .then(
          () => {
            for (const p of batch) p.resolve();
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

  const slowPath = async (hb: HeartbeatInput): Promise<HeartbeatResult> => {
    const result = await db.transaction(async (tx) => {
      const [before] = await tx
        .select({
          bootId: instances.bootId,
          state: instances.state,
          desiredVersion: instances.desiredVersion,
        })
        .from(instances)
        .where(eq(instances.id, hb.instanceId))
        .for("update");
      if (!before) throw new Error(`heartbeat for unknown instance ${hb.instanceId}`);
      const becomesRunning =
        before.state === "pending" || before.state === "starting" || before.state === "stopped";
      await tx
        .update(instances)
        .set({
          lastHeartbeatAt: hb.at,
          bootId: hb.bootId,
          agentVersion: hb.agentVersion,
          appliedVersion: hb.appliedVersion,
          uptimeSeconds: hb.uptimeSeconds,
          updatedAt: hb.at,
          ...(becomesRunning ? { state: "running" as const } : {}),
        })
        .where(eq(instances.id, hb.instanceId));
      return { before, becomesRunning };
    });
    const firstOfBoot = result.before.bootId !== hb.bootId;
    if (firstOfBoot) {
      await events.emit(
        "system.heartbeat.received",
        "info",
        {
          bootId: hb.bootId,
          agentVersion: hb.agentVersion,
          uptimeSeconds: hb.uptimeSeconds,
          previousBootId: result.before.bootId,
        },
        { nodeId: hb.instanceId, correlationId: hb.bootId },
      );
    }
    if (result.becomesRunning) {
      await events.emit(
        "system.instance.running",
        "info",
        { from: result.before.state, bootId: hb.bootId },
        { nodeId: hb.instanceId, correlationId: hb.bootId },
      );
    }
    known.set(hb.instanceId, { bootId: hb.bootId, desiredVersion: result.before.desiredVersion });
    return { desiredVersion: result.before.desiredVersion, firstOfBoot };
  };

  return {
    async record(hb) {
      const k = known.get(hb.instanceId);
      if (!k || k.bootId !== hb.bootId) return slowPath(hb);
      await new Promise<void>((resolve, reject) => {
        queue.push({ hb, resolve, reject });
        if (queue.length >= MAX_BATCH) pump();
        else if (!scheduled) {
          scheduled = true;
          setImmediate(pump);
        }
      });
      return { desiredVersion: k.desiredVersion, firstOfBoot: false };
    },
    forget(instanceId) {
      known.delete(instanceId);
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
