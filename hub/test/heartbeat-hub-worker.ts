/**
 * The hub side of bench/heartbeat.ts: a Worker thread running startHub() on the given database, so the hub
 * has its own event loop (and core) while the bench thread drives the clients.
 */
import { parentPort, workerData } from "node:worker_threads";
import { startHub } from "../src/hub.ts";
import { createLogger } from "../src/log.ts";

/** What the bench hands the worker. */
export interface HeartbeatHubWorkerInput {
  dataDir: string;
  databaseUrl: string | undefined;
}

// The bench seeds the database first and then says "start" (PGlite allows one process/thread per data dir).
await new Promise<void>((resolve) => parentPort?.once("message", () => resolve()));
const input = workerData as HeartbeatHubWorkerInput;
const hub = await startHub({
  dataDir: input.dataDir,
  databaseUrl: input.databaseUrl,
  listenHost: "127.0.0.1",
  providers: [],
  log: createLogger({ level: "warn", fields: { component: "bench-hub" } }),
});
parentPort?.postMessage({ mtlsUrl: hub.mtlsUrl });
parentPort?.on("message", async (m: string) => {
  if (m === "stop") {
    await hub.stop();
    parentPort?.postMessage("stopped");
  }
});
