/**
 * The hub side of bench/heartbeat.ts, as its own process (so hub and clients each have their own file
 * descriptor table: 10,000 node sessions need 10,000 sockets on each side). Reads PN_BENCH_DATA and
 * PN_BENCH_DATABASE_URL, starts the hub, writes `<data>/ready-<PN_BENCH_NAME>.json` with its URLs, and
 * stops when `<data>/stop` appears. Several of these on one PostgreSQL and one data dir are a scaled-out
 * hub (`bench/heartbeat.ts --hubs 2`).
 *
 *   PN_BENCH_DATA=/tmp/x bun hub/test/heartbeat-hub-process.ts
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startHub } from "../src/hub.ts";
import { createLogger } from "../src/log.ts";
import { heartbeatBatchTotals, untilStopFile, writeReady } from "./bench-process.ts";

const dataDir = process.env.PN_BENCH_DATA;
if (!dataDir) throw new Error("PN_BENCH_DATA is not set");
const hub = await startHub({
  dataDir,
  databaseUrl: process.env.PN_BENCH_DATABASE_URL || undefined,
  listenHost: "127.0.0.1",
  providers: [],
  log: createLogger({ level: "warn", fields: { component: "bench-hub" } }),
});
writeReady(dataDir, process.env.PN_BENCH_NAME || "hub", { mtlsUrl: hub.mtlsUrl, pid: process.pid });
await untilStopFile(dataDir);
await hub.deps.heartbeats.drain();
writeFileSync(
  join(dataDir, `batches-${process.env.PN_BENCH_NAME || "hub"}.json`),
  JSON.stringify(heartbeatBatchTotals(await hub.deps.metrics.render())),
);
await hub.stop();
