/**
 * The hub's own CPU per heartbeat, without the transport: what bench/heartbeat.ts's `hub µs/beat`
 * has on top of its bare `node:http2` baseline, measured in one process with no sockets and no TLS, so
 * that a change to the handler path shows up above the noise of a 2-core machine.
 *
 *   bun bench/heartbeat-path.ts [--beats 20000] [--concurrency 128] [--rounds 3] [--db pglite|postgres]
 *
 * A test hub on PGlite or on a throwaway PostgreSQL 15 (its features, its request gate and interceptors) with one enrolled node per
 * concurrent caller; the node listener's direct path (hub/src/rpc/node-unary.ts) is built over the
 * hub's own services and fed Connect binary Heartbeat requests through an in-memory stand-in for the
 * HTTP/2 stream (the `data`/`end` events and `respond`/`end` the path uses; no timers: the connection
 * guard is the transport's). Printed per round, as CPU µs per heartbeat (process.cpuUsage):
 *   - `path`: the whole answer, the batched database write included (on PGlite the database itself
 *     runs in this process; on PostgreSQL only its client does, as in the hub);
 *   - `path, writes not awaited`: the same with the heartbeat writer swapped for one that answers at
 *     once (not how the hub runs: it separates the database's share from the rest);
 *   - `path, identity re-read`: the whole answer with the node's cached identity dropped first, as
 *     every heartbeat found it while the cache period was half a heartbeat interval (decision 0044);
 *   - `decode + encode`: fromBinary of the request and toBinary of the answer alone, for scale.
 */
import { runHeartbeatPathBench } from "../hub/test/heartbeat-path.ts";
import { startThrowawayPostgres } from "../scripts/lib/postgres.ts";

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = Number(i >= 0 ? process.argv[i + 1] : fallback);
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name}: "${process.argv[i + 1]}" is not a count`);
  return v;
}

const dbAt = process.argv.indexOf("--db");
const db = dbAt >= 0 ? process.argv[dbAt + 1] : "pglite";
if (db !== "pglite" && db !== "postgres") throw new Error(`--db: "${db}" is not pglite or postgres`);
const pg = db === "postgres" ? await startThrowawayPostgres() : undefined;
// The test hub takes a fresh database on this cluster (hub/test/harness.ts).
if (pg) process.env.TEST_DATABASE_URL = pg.url;
try {
  console.table(
    await runHeartbeatPathBench({
      beats: arg("beats", 20_000),
      concurrency: arg("concurrency", 128),
      rounds: arg("rounds", 3),
    }),
  );
} finally {
  await pg?.stop();
}
