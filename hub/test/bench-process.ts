/** The ready/stop protocol of bench/heartbeat.ts's server processes (hub and baseline). */
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** Writes `<dataDir>/ready-<name>.json` with what the bench client needs. */
export function writeReady(dataDir: string, name: string, info: { mtlsUrl: string; pid: number }): void {
  writeFileSync(join(dataDir, `ready-${name}.json`), JSON.stringify(info));
}

/** Resolves once `<dataDir>/stop` exists (the client writes it when the run ends). */
export function untilStopFile(dataDir: string): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      if (existsSync(join(dataDir, "stop"))) {
        clearInterval(timer);
        resolve();
      }
    }, 200);
  });
}

/**
 * The heartbeat writer's totals in a hub's `/metrics` text: heartbeats written and write batches
 * (heartbeat-writer.ts; rows per batch decides the database's share of a heartbeat).
 */
export function heartbeatBatchTotals(metrics: string): { rows: number; batches: number } {
  const total = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(metrics)?.[1] ?? 0);
  return {
    rows: total("powernode_heartbeat_rows_total"),
    batches: total("powernode_heartbeat_batches_total"),
  };
}
