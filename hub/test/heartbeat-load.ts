/**
 * The machinery of bench/heartbeat.ts (kept in the hub package so it resolves the hub's dependencies):
 * seed N nodes with real certificates, run the hub as its own process, drive Heartbeat over one mTLS HTTP/2
 * session per node, and measure. See bench/heartbeat.ts for what is measured and how.
 */
import "reflect-metadata";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { type ClientHttp2Session, connect } from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { create, toBinary } from "@bufbuild/protobuf";
import * as x509 from "@peculiar/x509";
import { HeartbeatRequestSchema } from "@powernode/proto";
import postgres from "postgres";
import { run } from "../../scripts/lib/exec.ts";
import { type CertificateAuthority, createCertificateAuthority, loadOrCreateCa } from "../src/ca/ca.ts";
import { parseCsr } from "../src/ca/csr.ts";
import { createKeyAtRest } from "../src/ca/key-at-rest.ts";
import { CA_KEY_CONTEXT } from "../src/ca/stored-keys.ts";
import { createDb } from "../src/db/client.ts";
import { migrateToLatest } from "../src/db/migrate.ts";
import { ca as caTable, certificates, instances } from "../src/db/schema/index.ts";
import { waitFor } from "./harness.ts";

/** A simulated node: its instance id and its own client certificate and key. */
export interface BenchNode {
  id: string;
  certPem: string;
  keyPem: string;
  serial: string;
  notBefore: Date;
  notAfter: Date;
}

/** The CA every run shares (PEM key + certificate), made by the hub's own code. */
export interface BenchRoot {
  keyPem: string;
  certPem: string;
}

/** One measured run. */
export interface BenchResult {
  db: "pglite" | "postgres";
  /** "1 hub", "2 hubs", or "node:http2" (the baseline). */
  target: string;
  nodes: number;
  sessions: number;
  concurrency: number;
  "heartbeats/s": number;
  "p50 ms": number;
  "p99 ms": number;
  "max ms": number;
  errors: number;
  /** Heartbeats acknowledged by each server process, in order. */
  "served by each": string;
  "connect s": number;
  "first-beat/s": number;
  /** CPU the hub process used during the measured loop, as % of one core. */
  "hub CPU %": number;
  /** Hub CPU per acknowledged heartbeat (what bounds the hub on one core). */
  "hub µs/beat": number;
  /** CPU of this (client) process during the loop, as % of one core. */
  "client CPU %": number;
  /**
   * Heartbeats per write batch over the whole run (first beats included), summed over the hubs; a
   * batch of steady heartbeats is one statement (heartbeat-writer.ts). Not for the baseline.
   */
  "rows/batch"?: number;
}

function toPem(der: ArrayBuffer, label: string): string {
  const b64 = Buffer.from(der).toString("base64");
  return `-----BEGIN ${label}-----\n${b64.replace(/(.{64})/g, "$1\n").replace(/\n$/, "")}\n-----END ${label}-----\n`;
}

/**
 * Makes the CA in a scratch PGlite with loadOrCreateCa, exactly as a hub does on first start, and opens
 * its sealed key: the bench seeds it in plain PEM, as an older hub stored it, and the hub seals it at
 * start (ca/stored-keys.ts).
 */
export async function makeBenchRoot(): Promise<{ root: BenchRoot; ca: CertificateAuthority }> {
  const scratch = await createDb("memory://");
  await migrateToLatest(scratch);
  const keys = createKeyAtRest(randomBytes(32), "bench scratch key");
  await loadOrCreateCa(scratch.db, keys);
  const [row] = await scratch.db.select().from(caTable);
  await scratch.close();
  if (!row) throw new Error("scratch CA row missing");
  const root = { keyPem: keys.open(row.keyPem, CA_KEY_CONTEXT), certPem: row.certPem };
  return { root, ca: await createCertificateAuthority(root) };
}

/** N nodes, each with its own EC P-256 key, CSR and certificate from `ca` (CN = instance id). */
export async function makeBenchNodes(ca: CertificateAuthority, n: number): Promise<BenchNode[]> {
  const out: BenchNode[] = [];
  for (let i = 0; i < n; i++) {
    const id = crypto.randomUUID();
    const keys = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
      "sign",
      "verify",
    ]);
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({
      name: `CN=${id}`,
      keys,
      signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
    });
    const parsed = await parseCsr(csr.toString("pem"), id);
    if (!parsed.ok) throw new Error(parsed.error);
    const cert = await ca.issueNodeCertificate(parsed.value, id);
    out.push({
      id,
      certPem: cert.pem,
      keyPem: toPem(await crypto.subtle.exportKey("pkcs8", keys.privateKey), "PRIVATE KEY"),
      serial: cert.serial,
      notBefore: cert.notBefore,
      notAfter: cert.notAfter,
    });
  }
  return out;
}

/** Writes the CA row, the instances (state "starting") and their certificates, as enrollment would. */
async function seed(target: string, root: BenchRoot, nodes: readonly BenchNode[]): Promise<void> {
  const h = await createDb(target);
  await migrateToLatest(h);
  await h.db
    .insert(caTable)
    .values({ id: "root", ...root })
    .onConflictDoNothing();
  for (let i = 0; i < nodes.length; i += 1000) {
    const chunk = nodes.slice(i, i + 1000);
    await h.db.insert(instances).values(
      chunk.map((n, j) => ({
        id: n.id,
        name: `bench-${i + j}`,
        arch: "amd64" as const,
        provider: "none",
        state: "starting" as const,
        enrolledAt: n.notBefore,
      })),
    );
    await h.db.insert(certificates).values(
      chunk.map((n) => ({
        serial: n.serial,
        instanceId: n.id,
        notBefore: n.notBefore,
        notAfter: n.notAfter,
        pem: n.certPem,
      })),
    );
  }
  await h.close();
}

/** Creates a fresh database on a PostgreSQL server; returns its URL. */
export async function createPostgresDatabase(serverUrl: string, name: string): Promise<string> {
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  await admin.end();
  const u = new URL(serverUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

function heartbeatBody(bootId: string, uptime: number): Uint8Array {
  return toBinary(
    HeartbeatRequestSchema,
    create(HeartbeatRequestSchema, { bootId, agentVersion: "bench", uptimeSeconds: uptime }),
  );
}

/** One Connect unary Heartbeat over the node's own HTTP/2 session. */
function heartbeat(session: ClientHttp2Session, body: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = session.request({
      ":method": "POST",
      ":path": "/powernode.v1.NodeService/Heartbeat",
      "content-type": "application/proto",
      "connect-protocol-version": "1",
      // The agent's heartbeat deadline (heartbeat-controller.ts).
      "connect-timeout-ms": "15000",
    });
    let status = 0;
    const chunks: Buffer[] = [];
    req.on("response", (h) => {
      status = Number(h[":status"]);
    });
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () =>
      status === 200 ? resolve() : reject(new Error(`HTTP ${status}: ${Buffer.concat(chunks).toString()}`)),
    );
    req.on("error", reject);
    req.end(body);
  });
}

function openSession(url: string, caPem: string, node: BenchNode): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const s = connect(url, { ca: caPem, cert: node.certPem, key: node.keyPem });
    s.once("connect", () => resolve(s));
    s.once("error", reject);
  });
}

async function pool<T>(
  items: readonly T[],
  width: number,
  fn: (t: T, i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i] as T, i);
      }
    }),
  );
}

/** utime + stime of a process in seconds, from /proc/<pid>/stat (clock ticks of 1/100 s on Linux). */
function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** What answers the heartbeats: N hub processes on one database, or the bare node:http2 baseline. */
export type BenchTarget =
  | { kind: "hub"; hubs: number }
  | { kind: "baseline"; server: { certPem: string; keyPem: string } };

/** Starts one server process of the run; resolves with its URL and pid once it wrote its ready file. */
async function startServer(
  entry: string,
  name: string,
  dataDir: string,
  databaseUrl: string | undefined,
  exits: Promise<unknown>[],
): Promise<{ mtlsUrl: string; pid: number }> {
  // PN_BENCH_PROFILE=<dir> writes a markdown CPU profile of each server process there.
  const profile = process.env.PN_BENCH_PROFILE
    ? ["--cpu-prof-md", `--cpu-prof-dir=${process.env.PN_BENCH_PROFILE}`]
    : [];
  const exit = run(process.execPath, [...profile, fileURLToPath(new URL(entry, import.meta.url))], {
    env: {
      ...process.env,
      PN_BENCH_DATA: dataDir,
      PN_BENCH_NAME: name,
      PN_BENCH_DATABASE_URL: databaseUrl ?? "",
    },
    timeoutMs: 30 * 60_000,
  });
  exit.catch(() => {});
  exits.push(exit);
  const ready = join(dataDir, `ready-${name}.json`);
  await waitFor(
    `bench server ${name} to write its ready file`,
    () => (existsSync(ready) ? true : undefined),
    60_000,
  );
  return JSON.parse(readFileSync(ready, "utf8")) as { mtlsUrl: string; pid: number };
}

/**
 * Seeds a database, starts the target's server processes (hubs: one after the other, the first
 * migrates; node i talks to server i mod N), connects every node and measures. CPU is summed over
 * the server processes.
 */
export async function runHeartbeatBench(opts: {
  db: "pglite" | "postgres";
  databaseUrl: string | undefined;
  root: BenchRoot;
  nodes: readonly BenchNode[];
  seconds: number;
  concurrency: number;
  target?: BenchTarget;
}): Promise<BenchResult> {
  const target = opts.target ?? { kind: "hub", hubs: 1 };
  const dataDir = mkdtempSync(join(tmpdir(), "pn-bench-"));
  const sessions: ClientHttp2Session[] = [];
  const exits: Promise<unknown>[] = [];
  let stopped = false;
  /** Closes the sessions and stops the server processes (once). */
  const stopServers = async () => {
    if (stopped) return;
    stopped = true;
    for (const s of sessions) s?.close();
    writeFileSync(join(dataDir, "stop"), "");
    for (const e of exits)
      await e.catch((err: Error) => process.stderr.write(`bench server: ${err.message}\n`));
  };
  try {
    const servers: { mtlsUrl: string; pid: number }[] = [];
    if (target.kind === "baseline") {
      writeFileSync(
        join(dataDir, "baseline-tls.json"),
        JSON.stringify({ ...target.server, caPem: opts.root.certPem }),
      );
      servers.push(
        await startServer("./heartbeat-baseline-process.ts", "baseline", dataDir, undefined, exits),
      );
    } else {
      if (target.hubs > 1 && opts.db !== "postgres") throw new Error("several hubs need PostgreSQL");
      await seed(opts.databaseUrl ?? join(dataDir, "pglite"), opts.root, opts.nodes);
      // The hubs run as their own processes: each side needs one socket per node, and 2 x 10,000 sockets
      // do not fit one process's descriptor limit. They stop when the "stop" file appears.
      for (let h = 0; h < target.hubs; h++)
        servers.push(
          await startServer("./heartbeat-hub-process.ts", `hub${h + 1}`, dataDir, opts.databaseUrl, exits),
        );
    }
    const server = (i: number) => servers[i % servers.length] as { mtlsUrl: string; pid: number };
    const t0 = performance.now();
    await pool(opts.nodes, 64, async (n, i) => {
      sessions[i] = await openSession(server(i).mtlsUrl, opts.root.certPem, n);
    });
    const connectS = (performance.now() - t0) / 1000;
    const t1 = performance.now();
    const first = heartbeatBody("boot-1", 1);
    await pool(opts.nodes, opts.concurrency, (_n, i) => heartbeat(sessions[i] as ClientHttp2Session, first));
    const warmS = (performance.now() - t1) / 1000;

    const latencies = new Float64Array(20_000_000);
    let count = 0;
    let errors = 0;
    let firstError = "";
    let cursor = 0;
    const served = new Array<number>(servers.length).fill(0);
    const body = heartbeatBody("boot-1", 2);
    const serverCpu = () => servers.reduce((sum, x) => sum + cpuSecondsOf(x.pid), 0);
    const hubCpu0 = serverCpu();
    const clientCpu0 = cpuSecondsOf(process.pid);
    const start = performance.now();
    const deadline = start + opts.seconds * 1000;
    await Promise.all(
      Array.from({ length: opts.concurrency }, async () => {
        while (performance.now() < deadline) {
          const i = cursor++ % opts.nodes.length;
          const t = performance.now();
          try {
            await heartbeat(sessions[i] as ClientHttp2Session, body);
            latencies[count++] = performance.now() - t;
            served[i % servers.length] = (served[i % servers.length] ?? 0) + 1;
          } catch (e) {
            errors++;
            firstError ||= (e as Error).message;
          }
        }
      }),
    );
    const elapsed = (performance.now() - start) / 1000;
    const hubCpu = serverCpu() - hubCpu0;
    const clientCpu = cpuSecondsOf(process.pid) - clientCpu0;
    if (firstError) process.stderr.write(`first error: ${firstError}\n`);
    const sorted = latencies.subarray(0, count).sort();
    await stopServers();
    const batches = servers.map((_s, h) => join(dataDir, `batches-hub${h + 1}.json`)).filter(existsSync);
    const written = batches
      .map((f) => JSON.parse(readFileSync(f, "utf8")) as { rows: number; batches: number })
      .reduce((a, b) => ({ rows: a.rows + b.rows, batches: a.batches + b.batches }), { rows: 0, batches: 0 });
    return {
      db: opts.db,
      target: target.kind === "baseline" ? "node:http2" : `${target.hubs} hub${target.hubs > 1 ? "s" : ""}`,
      nodes: opts.nodes.length,
      sessions: sessions.length,
      concurrency: opts.concurrency,
      "heartbeats/s": Math.round(count / elapsed),
      "p50 ms": Number(percentile(sorted, 50).toFixed(2)),
      "p99 ms": Number(percentile(sorted, 99).toFixed(2)),
      "max ms": Number((sorted[sorted.length - 1] ?? Number.NaN).toFixed(1)),
      errors,
      "served by each": served.join("/"),
      "connect s": Number(connectS.toFixed(1)),
      "first-beat/s": Math.round(opts.nodes.length / warmS),
      "hub CPU %": Math.round((100 * hubCpu) / elapsed),
      "hub µs/beat": Math.round((hubCpu * 1e6) / Math.max(count, 1)),
      "client CPU %": Math.round((100 * clientCpu) / elapsed),
      ...(written.batches > 0 ? { "rows/batch": Number((written.rows / written.batches).toFixed(1)) } : {}),
    };
  } finally {
    await stopServers();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
