/**
 * Heartbeat throughput and latency of the hub's mTLS listener, on PGlite and on PostgreSQL 15.
 *
 *   bun bench/heartbeat.ts [--db pglite|postgres|both] [--nodes 1000,10000] [--seconds 10] [--concurrency 128]
 *
 * Setup (not measured): N instances and N node certificates are written straight into the database (one CA
 * made by the hub's own code, then per node an EC P-256 key, a CSR and a certificate issued by the hub's CA
 * code) instead of N Enroll calls; enrollment is covered by its own tests. The hub then runs as its own
 * process (hub/test/heartbeat-hub-process.ts, startHub() on that database): each side needs one socket per
 * node and 2 x 10,000 do not fit one process's descriptor limit. This process is the client.
 *
 * Client: one TLS session per node, each presenting that node's own client certificate (identity is the
 * certificate, so a session never carries another node's calls): 1,000 nodes = 1,000 sessions, 10,000
 * nodes = 10,000 sessions. Heartbeat goes as a Connect unary call over HTTP/2 (`application/proto`), what
 * the agent's connect-node transport sends. Each node first sends its first heartbeat of the boot (slow
 * path: state starting -> running and a `system.heartbeat.received` event), then a closed loop keeps
 * `--concurrency` calls in flight, cycling through all nodes, each call on its own node's session, for
 * `--seconds`. Printed: heartbeats/s, p50/p99/max latency (ms), errors, time to connect all sessions, and
 * the first-heartbeat rate. Goal on 2 cores: >= 5,000 heartbeats/s on PostgreSQL with p99 < 50 ms.
 */

import { loadavg } from "node:os";
import {
  createPostgresDatabase,
  makeBenchNodes,
  makeBenchRoot,
  runHeartbeatBench,
} from "../hub/test/heartbeat-load.ts";
import { startThrowawayPostgres } from "../scripts/lib/postgres.ts";

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

const dbArg = arg("db", "both");
const sizes = arg("nodes", "1000,10000").split(",").map(Number);
const seconds = Number(arg("seconds", "10"));
const concurrency = Number(arg("concurrency", "128"));
const dbs = dbArg === "both" ? (["pglite", "postgres"] as const) : [dbArg as "pglite" | "postgres"];

const { root, ca } = await makeBenchRoot();
const t = performance.now();
const all = await makeBenchNodes(ca, Math.max(...sizes));
process.stderr.write(
  `issued ${all.length} node certificates in ${((performance.now() - t) / 1000).toFixed(1)} s\n`,
);

const pg = dbs.includes("postgres") ? await startThrowawayPostgres() : undefined;
// Ctrl-C must not leave the throwaway cluster behind.
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.once(sig, () => {
    void (pg?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  });
}
const results = [];
try {
  for (const db of dbs) {
    for (const n of sizes) {
      const databaseUrl =
        db === "postgres" && pg
          ? await createPostgresDatabase(pg.url, `bench_${n}_${Date.now()}`)
          : undefined;
      // Other work on the machine competes for the same cores: print the load next to each result.
      process.stderr.write(
        `load average before ${db}/${n}: ${loadavg()
          .map((l) => l.toFixed(2))
          .join(" ")}\n`,
      );
      const r = await runHeartbeatBench({
        db,
        databaseUrl,
        root,
        nodes: all.slice(0, n),
        seconds,
        concurrency: Math.min(concurrency, n),
      });
      process.stderr.write(`${JSON.stringify(r)}\n`);
      results.push(r);
    }
  }
} finally {
  await pg?.stop();
}
console.table(results);
