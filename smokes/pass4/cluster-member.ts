/**
 * Pass 4's cluster member on two real PostgreSQL 15 servers (Debian's postgresql-15, started by the
 * smoke): hub P runs on the parent server; the member's server is made with `pg_basebackup` through a
 * replication slot on the parent and streams from it. Under a write load (fleet events written through
 * hub P) the lag is sampled (max printed, < 10 s required); the member refuses writes while the parent
 * lives. Then the parent (hub and PostgreSQL) is stopped, the member promoted, and hub M started on
 * it with the same data dir (the key-encryption key) and the CA the database replicated: a node that
 * heartbeated to P, given both URLs, continues on M within 60 s with its certificate (no re-enrollment),
 * and every event row written before the failover is on M.
 */
import { chownSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startHub } from "@powernode/hub";
import { createMemoryLog, startAgentSession } from "@powernode/node-agent";
import { Arch, EVENTS } from "@powernode/proto";
import { cliFor } from "../../hub/src/cli/test-cli.ts";
import { inRecovery, promote, replicationLag, withSql } from "../../hub/src/federation/replication.ts";
import { waitFor } from "../../hub/test/harness.ts";
import { run } from "../../scripts/lib/exec.ts";
import { freePort, startThrowawayPostgres } from "../../scripts/lib/postgres.ts";
import { launch, signIn } from "../console/browser.ts";
import { operatorClients, startSmokeHub } from "../lib/hub.ts";
import type { PassContext } from "../lib/pass.ts";

const PG_BIN = "/usr/lib/postgresql/15/bin";
const SLOT = "powernode_member_1";

async function asPostgres(): Promise<{ user?: string; uid?: number; gid?: number }> {
  if (process.getuid?.() !== 0) return {};
  const uid = Number((await run("id", ["-u", "postgres"])).stdout.trim());
  const gid = Number((await run("id", ["-g", "postgres"])).stdout.trim());
  return { user: "postgres", uid, gid };
}

export async function runClusterMember(t: PassContext): Promise<void> {
  const parent = await t.step("start the parent PostgreSQL 15", () =>
    startThrowawayPostgres({ settings: ["synchronous_commit=on"] }),
  );
  t.defer(() => parent.stop());
  const dataDir = mkdtempSync(join(tmpdir(), "pn-pass4-hub-"));
  t.defer(() => rmSync(dataDir, { recursive: true, force: true }));
  const [pPort, mPort] = [await freePort(), await freePort()];
  const pUrl = `https://127.0.0.1:${pPort}`;
  const mUrl = `https://127.0.0.1:${mPort}`;
  const hubOpts = { dataDir, nodeHost: "127.0.0.1", heartbeatSeconds: 2 };
  // Not startSmokeHub: the pass stops hub P itself, mid-way.
  const pHub = await t.step("hub P on the parent", () =>
    startHub({ ...hubOpts, databaseUrl: parent.url, mtlsPort: pPort }),
  );
  let pStopped = false;
  const stopP = async () => {
    if (pStopped) return;
    pStopped = true;
    await pHub.stop();
  };
  t.defer(stopP);
  const p = { hub: pHub, ...operatorClients(pHub.httpUrl, pHub.adminToken) };

  const pnctl = cliFor(() => pHub);
  const pnctlJson = async <T>(...argv: string[]): Promise<T> => {
    const r = await pnctl(...argv, "--json");
    if (r.code !== 0) throw new Error(`pnctl ${argv.join(" ")} -> ${r.code}: ${r.err}`);
    return JSON.parse(r.out) as T;
  };
  type SlotView = { slot: string; created: boolean; synchronous: boolean; basebackupArgs: string[] };
  const slot = await t.step("replication slot on the parent (pnctl federation member-slot)", () =>
    pnctlJson<SlotView>("federation", "member-slot", SLOT),
  );
  await t.check("slot created, event system.federation.replication.slot_created", async () => {
    const ev = await p.fleet.listEvents({ kindPrefix: EVENTS.federationReplicationSlotCreated.kind });
    if (!slot.created || ev.events.length !== 1)
      throw new Error(`created ${slot.created}, ${ev.events.length} events`);
    return `${slot.slot}; pg_basebackup ${slot.basebackupArgs.join(" ")}`;
  });

  const pg = await asPostgres();
  const base = mkdtempSync(join(tmpdir(), "pn-pass4-member-"));
  if (pg.uid !== undefined) chownSync(base, pg.uid, pg.gid ?? pg.uid);
  const memberDir = join(base, "data");
  const memberPort = await freePort();
  const memberUrl = `postgres://postgres@127.0.0.1:${memberPort}/postgres`;
  const pgCtl = (args: string[]) =>
    run(join(PG_BIN, "pg_ctl"), ["-D", memberDir, ...args], { user: pg.user, timeoutMs: 60_000 });
  let memberUp = false;
  t.defer(async () => {
    if (memberUp) await pgCtl(["-m", "immediate", "-w", "stop"]).catch(() => undefined);
    rmSync(base, { recursive: true, force: true });
  });
  await t.step("pg_basebackup through the slot, start the member", async () => {
    const args = slot.basebackupArgs.map((a) => (a === "<member data dir>" ? memberDir : a));
    await run(join(PG_BIN, "pg_basebackup"), args, {
      user: pg.user,
      timeoutMs: 120_000,
    });
    const o = `-p ${memberPort} -k ${base} -c listen_addresses=127.0.0.1 -c fsync=off -c hot_standby=on -c max_connections=200`;
    await pgCtl(["-o", o, "-l", join(base, "server.log"), "-w", "start"]);
    memberUp = true;
  });
  await t.check(
    "the member streams; pnctl federation member-slot --synchronous makes P wait for it",
    async () => {
      const again = await pnctlJson<SlotView>("federation", "member-slot", SLOT, "--synchronous");
      if (again.created) throw new Error("the slot was made twice");
      const listed = await waitFor(
        "the member listed streaming and synchronous",
        async () => {
          const rows = await pnctlJson<{ slot: string; streaming: boolean; synchronous: boolean }[]>(
            "federation",
            "member-slots",
          );
          const r = rows.find((x) => x.slot === SLOT);
          return r?.streaming && r.synchronous ? r : undefined;
        },
        30_000,
      );
      return JSON.stringify(listed);
    },
  );
  t.keepOnFailure("member PostgreSQL log", join(base, "server.log"));

  // A node on hub P that knows both URLs.
  const created = await p.provision.createInstance({
    name: "member-node",
    arch: Arch.AMD64,
    provider: "none",
  });
  const id = created.instance?.id ?? "";
  const stateDir = mkdtempSync(join(tmpdir(), "pn-pass4-agent-"));
  t.defer(() => rmSync(stateDir, { recursive: true, force: true }));
  const session = await startAgentSession({
    identity: {
      instanceUuid: id,
      bootstrapToken: created.bootstrapToken,
      platformUrl: pUrl,
      platformUrls: [pUrl, mUrl],
      caPem: p.hub.caPem,
    },
    stateDir,
    log: createMemoryLog(),
    backoff: { initialMs: 200, maxMs: 1000 },
  });
  t.defer(() => session.stop());
  await t.step("the node heartbeats to hub P", () =>
    session.waitFor("a heartbeat ack from P", (s) => s.heartbeatsAcked() > 0, 30_000),
  );

  await t.check("replication lag under a write load stays < 10 s (max printed)", async () => {
    let maxSeconds = 0;
    let maxBytes = 0;
    let streaming = false;
    let synchronous = false;
    const load = (async () => {
      for (let i = 0; i < 40; i++)
        await p.hub.deps.events.emitMany(
          Array.from({ length: 50 }, (_, j) => ({
            ...EVENTS.debugPing,
            payload: { i, j, pad: "x".repeat(500) },
          })),
        );
    })();
    let done = false;
    void load.finally(() => {
      done = true;
    });
    while (!done) {
      const lag = await replicationLag(parent.url, SLOT);
      streaming ||= lag.streaming;
      synchronous ||= lag.synchronous;
      maxSeconds = Math.max(maxSeconds, lag.seconds);
      maxBytes = Math.max(maxBytes, lag.bytes);
    }
    await load;
    if (!streaming) throw new Error("no walsender streamed the slot");
    if (!synchronous) throw new Error("the member is not a synchronous standby");
    if (maxSeconds >= 10) throw new Error(`max lag ${maxSeconds.toFixed(3)} s`);
    return `max lag ${maxSeconds.toFixed(3)} s, ${maxBytes} bytes, over 2000 event rows, synchronous standby`;
  });

  const parentRows = () =>
    withSql(parent.url, async (sql) => {
      const [r] = await sql<
        { n: string; max: string }[]
      >`select count(*)::text as n, coalesce(max(seq), 0)::text as max from fleet_events`;
      return { n: Number(r?.n), max: r?.max ?? "0" };
    });

  await t.check("hub P's /metrics shows the member's lag, synchronous", async () => {
    const res = await fetch(`${p.hub.httpUrl}/metrics`, {
      headers: { authorization: `Bearer ${p.hub.adminToken}` },
      tls: { ca: p.hub.caPem },
    });
    const text = await res.text();
    const line = (name: string) => text.split("\n").find((l) => l.startsWith(`${name}{slot="${SLOT}"}`));
    const bytes = line("powernode_replication_lag_bytes");
    const seconds = line("powernode_replication_lag_seconds");
    const sync = line("powernode_replication_synchronous");
    if (!bytes || !seconds || sync?.split(" ")[1] !== "1")
      throw new Error(`HTTP ${res.status}: ${bytes} / ${seconds} / ${sync}`);
    return `${bytes}; ${seconds}`;
  });
  await t.check(
    "the console's Fleet view shows the member's slot, streaming and synchronous, with its lag",
    async () => {
      const browser = await launch(t);
      const page = await (await browser.newContext()).newPage();
      await page.goto(`${p.hub.httpUrl}/`);
      await signIn(page, p.hub.adminToken);
      await page.waitForSelector(`table[aria-label="cluster members"] [data-slot="${SLOT}"]`, {
        timeout: 15_000,
      });
      const row = await page.$$eval('table[aria-label="cluster members"] tbody tr', (trs) =>
        trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => (td.textContent ?? "").trim())),
      );
      const cells = row[0] ?? [];
      if (!cells[1]?.includes("running") || !cells[2]?.startsWith("yes") || !/ s$/.test(cells[4] ?? ""))
        throw new Error(`row ${JSON.stringify(cells)}`);
      await browser.close();
      return cells.join(" | ");
    },
  );

  await t.check("the member is read-only while the parent lives", async () => {
    if (!(await inRecovery(memberUrl))) throw new Error("the member is not in recovery");
    const wrote = await withSql(
      memberUrl,
      (sql) => sql`insert into fleet_events (kind, severity, payload) values ('x', 'info', '{}')`,
    ).then(
      () => "accepted",
      (e: unknown) => String(e),
    );
    if (!/read-only/.test(wrote)) throw new Error(`a write on the member: ${wrote}`);
    return "insert refused: read-only transaction";
  });

  const rowsBefore = await parentRows();
  const acked = session.heartbeatsAcked();
  const stopped = performance.now();
  await t.step("stop the parent (hub P and its PostgreSQL)", async () => {
    await stopP();
    await parent.stop();
  });
  await t.step("promote the member", () => promote(undefined, memberUrl));
  const m = await t.step("hub M on the promoted member", () =>
    startSmokeHub(t, { ...hubOpts, databaseUrl: memberUrl, mtlsPort: mPort }),
  );
  await t.check("the node continues on hub M within 60 s, with its certificate", async () => {
    await session.waitFor(
      "heartbeats acknowledged by hub M",
      (s) => s.hubUrl() === mUrl && s.heartbeatsAcked() > acked + 1,
      60_000,
    );
    const seconds = (performance.now() - stopped) / 1000;
    const enrolled = session.phaseEvents().filter((e) => e.kind === "system.agent.enrolled");
    if (enrolled.length !== 1) throw new Error(`enrolled ${enrolled.length} times`);
    if (seconds >= 60) throw new Error(`${seconds.toFixed(1)} s`);
    return `${seconds.toFixed(1)} s from stopping the parent to heartbeats on M; enrolled once`;
  });
  await t.check("no event row written before the failover is lost", async () => {
    const n = await withSql(memberUrl, async (sql) => {
      const [r] = await sql<
        { n: string }[]
      >`select count(*)::text as n from fleet_events where seq <= ${rowsBefore.max}`;
      return Number(r?.n);
    });
    if (n !== rowsBefore.n) throw new Error(`${n} of ${rowsBefore.n} rows`);
    return `${n} of ${rowsBefore.n} rows (seq <= ${rowsBefore.max}) on the member; hub M at ${m.hub.httpUrl}`;
  });
}
