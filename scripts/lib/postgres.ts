/**
 * A throwaway PostgreSQL 15 cluster (Debian's postgresql-15) on a free loopback port, for the database
 * test suite and benchmarks. It lives in a temp dir owned by the `postgres` user and is removed on stop.
 *
 * @example
 * await using pg = await startThrowawayPostgres();
 * process.env.TEST_DATABASE_URL = pg.url;
 */
import { chownSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "./exec.ts";

const PG_BIN = "/usr/lib/postgresql/15/bin";

export interface ThrowawayPostgres {
  /** postgres://postgres@127.0.0.1:<port>/postgres */
  url: string;
  port: number;
  dataDir: string;
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Picks a free TCP port on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function uidOf(user: string): Promise<{ uid: number; gid: number }> {
  const uid = Number((await run("id", ["-u", user])).stdout.trim());
  const gid = Number((await run("id", ["-g", user])).stdout.trim());
  return { uid, gid };
}

/** Starts a fresh cluster; throws with initdb/pg_ctl's stderr if it cannot. */
export async function startThrowawayPostgres(
  opts: {
    database?: string;
    /** More `-c name=value` settings, after (and so overriding) the fast defaults below. */
    settings?: readonly string[];
  } = {},
): Promise<ThrowawayPostgres> {
  if (!existsSync(join(PG_BIN, "initdb"))) {
    throw new Error(
      `PostgreSQL 15 server binaries not found in ${PG_BIN}: install the postgresql-15 package`,
    );
  }
  const base = mkdtempSync(join(tmpdir(), "powernode-pg-"));
  const dataDir = join(base, "data");
  const asRoot = process.getuid?.() === 0;
  const user = asRoot ? "postgres" : undefined;
  if (asRoot) {
    const { uid, gid } = await uidOf("postgres");
    chownSync(base, uid, gid);
  }
  await run(
    join(PG_BIN, "initdb"),
    ["-D", dataDir, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"],
    {
      user,
      timeoutMs: 120_000,
    },
  );
  const port = await freePort();
  const options = `-p ${port} -k ${base} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200${(opts.settings ?? []).map((x) => ` -c ${x}`).join("")}`;
  await run(
    join(PG_BIN, "pg_ctl"),
    ["-D", dataDir, "-o", options, "-l", join(base, "server.log"), "-w", "start"],
    {
      user,
      timeoutMs: 60_000,
    },
  );
  const database = opts.database ?? "postgres";
  if (database !== "postgres") {
    await run(join(PG_BIN, "createdb"), ["-h", "127.0.0.1", "-p", String(port), "-U", "postgres", database], {
      user,
    });
  }
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    try {
      await run(join(PG_BIN, "pg_ctl"), ["-D", dataDir, "-m", "immediate", "-w", "stop"], {
        user,
        timeoutMs: 30_000,
      });
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  };
  return {
    url: `postgres://postgres@127.0.0.1:${port}/${database}`,
    port,
    dataDir,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

if (import.meta.main) {
  // `bun scripts/lib/postgres.ts`: start one and print its URL until Ctrl-C (handy for manual work).
  const pg = await startThrowawayPostgres();
  console.log(pg.url);
  process.on("SIGINT", () => void pg.stop().then(() => process.exit(0)));
}
