/**
 * Heartbeat throughput and latency of the hub's mTLS listener, on PGlite and on PostgreSQL 15.
 *
 *   bun bench/heartbeat.ts [--db pglite|postgres|both] [--nodes 1000,10000] [--seconds 10] [--concurrency 128]
 *                          [--hubs 2]
 *
 * Setup (not measured): N instances and N node certificates are written straight into the database (one CA
 * made by the hub's own code, then per node an EC P-256 key, a CSR and a certificate issued by the hub's CA
 * code) instead of N Enroll calls; enrollment is covered by its own tests. The hub then runs as its own
 * process (hub/test/heartbeat-hub-process.ts, startHub() on that database): each side needs one socket per
 * node and 2 x 10,000 do not fit one process's descriptor limit. This process is the client.
 *
 * Client: one TLS session per node, each presenting that node's own client certificate (identity is the
 * certificate, so a session never carries another node's calls): 1,000 nodes = 1,000 sessions, 10,000
 * nodes = 10,000 sessions. Heartbeat goes as a Connect unary call over HTTP/2 (`application/proto`, a
 * `connect-timeout-ms` of 15 s), what the agent's connect-node transport sends. Each node first sends
 * its first heartbeat of the boot (slow path: state starting -> running and a
 * `system.heartbeat.received` event), then a closed loop keeps
 * `--concurrency` calls in flight, cycling through all nodes, each call on its own node's session, for
 * `--seconds`. Printed: heartbeats/s, p50/p99/max latency (ms), errors, time to connect all sessions, and
 * the first-heartbeat rate. Goal on 2 cores: >= 5,000 heartbeats/s on PostgreSQL with p99 < 50 ms.
 *
 * Against the physical limit: for each node count the same client loop also runs against a bare
 * `node:http2` server with the same TLS (hub/test/heartbeat-baseline-process.ts, a fixed Connect
 * answer), and `hub µs/beat / baseline µs/beat` is printed (goal <= 1.3). With `--hubs 2` (PostgreSQL)
 * the nodes are spread over two hub processes on one database; the servers' CPU is summed, and the
 * ratio to one hub's µs/beat is printed (goal <= 1.15: the cost stays linear, so cores add throughput).
 */

import { loadavg } from "node:os";
import {
  type BenchResult,
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
const hubs = Number(arg("hubs", "1"));
if (!Number.isInteger(hubs) || hubs < 1 || hubs > 4)
  throw new Error(`--hubs: "${arg("hubs", "1")}" is not 1-4`);
if (hubs > 1 && !dbs.includes("postgres")) throw new Error("--hubs 2 needs --db postgres (or both)");

const { root, ca } = await makeBenchRoot();
const baselineServer = await ca.issueServerCertificate(["127.0.0.1", "localhost"]);
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
const results: BenchResult[] = [];
const ratios: Record<string, string | number>[] = [];
const load = (what: string) =>
  process.stderr.write(
    `load average before ${what}: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}\n`,
  );
const once = async (r: Promise<BenchResult>) => {
  const got = await r;
  process.stderr.write(`${JSON.stringify(got)}\n`);
  results.push(got);
  return got;
};
try {
  for (const n of sizes) {
    const nodes = all.slice(0, n);
    const common = { root, nodes, seconds, concurrency: Math.min(concurrency, n) };
    // Other work on the machine competes for the same cores: print the load next to each result.
    load(`node:http2 baseline/${n}`);
    const base = await once(
      runHeartbeatBench({
        ...common,
        db: "pglite",
        databaseUrl: undefined,
        target: { kind: "baseline", server: baselineServer },
      }),
    );
    for (const db of dbs) {
      const fresh = async () =>
        db === "postgres" && pg
          ? await createPostgresDatabase(pg.url, `bench_${n}_${Date.now()}`)
          : undefined;
      load(`${db}/${n}`);
      const one = await once(runHeartbeatBench({ ...common, db, databaseUrl: await fresh() }));
      const row: Record<string, string | number> = {
        db,
        nodes: n,
        "hub µs/beat": one["hub µs/beat"],
        "baseline µs/beat": base["hub µs/beat"],
        "hub / baseline": Number((one["hub µs/beat"] / Math.max(base["hub µs/beat"], 1)).toFixed(2)),
      };
      if (db === "postgres" && hubs > 1) {
        load(`postgres/${n} with ${hubs} hubs`);
        const many = await once(
          runHeartbeatBench({ ...common, db, databaseUrl: await fresh(), target: { kind: "hub", hubs } }),
        );
        row[`${hubs} hubs µs/beat (sum)`] = many["hub µs/beat"];
        row[`${hubs} hubs / 1 hub`] = Number(
          (many["hub µs/beat"] / Math.max(one["hub µs/beat"], 1)).toFixed(2),
        );
        row[`${hubs} hubs errors`] = many.errors;
        row[`${hubs} hubs served`] = many["served by each"];
      }
      ratios.push(row);
    }
  }
} finally {
  await pg?.stop();
}
console.table(results);
console.table(ratios);
