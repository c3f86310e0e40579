/**
 * The hub scaled out: two hub processes (`bun hub/src/main.ts`) on one throwaway PostgreSQL and one
 * shared data directory (key-encryption key, operator token, OCI store). A node (the agent session in
 * process) enrolls through hub 1, then watches on hub 2 with both URLs in its identity; an assignment
 * made through hub 1 reaches it within 1 s (LISTEN/NOTIFY); hub 2 is killed mid-stream and the node
 * continues on hub 1 with its certificate; a WatchEvents stream on hub 1 saw every event row.
 *
 *   bun smokes/ha.ts --tier db
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { type BackgroundProcess, startBackground } from "@powernode/exec";
import { createMemoryLog, startAgentSession } from "@powernode/node-agent";
import { Arch, CatalogService, FleetService, NodeState, ProvisionService } from "@powernode/proto";
import { freePort, startThrowawayPostgres } from "../scripts/lib/postgres.ts";
import { definePass, runPass } from "./lib/pass.ts";
import { waitFor } from "./lib/wait.ts";

interface HubProcess {
  proc: BackgroundProcess;
  httpUrl: string;
  mtlsUrl: string;
}

const root = join(import.meta.dir, "..");

export const haPass = definePass({
  id: 103,
  label: "ha",
  title: "two hub processes on one PostgreSQL: fan-out within 1 s, a node moves on when its hub dies",
  minTier: "db",
  async run(t) {
    const pg = await t.step("start a throwaway PostgreSQL 15", () => startThrowawayPostgres());
    t.defer(() => pg.stop());
    const dataDir = mkdtempSync(join(tmpdir(), "pn-ha-"));
    t.defer(() => rmSync(dataDir, { recursive: true, force: true }));

    const startHubProcess = async (name: string): Promise<HubProcess> => {
      const [http, mtls] = [await freePort(), await freePort()];
      const logFile = join(t.outDir, `${name}.log`);
      t.keepOnFailure(`${name} log`, logFile);
      const proc = startBackground(process.execPath, [join(root, "hub/src/main.ts")], {
        logFile,
        env: {
          ...process.env,
          DATABASE_URL: pg.url,
          POWERNODE_DATA: dataDir,
          POWERNODE_LISTEN_HOST: "127.0.0.1",
          POWERNODE_HTTP_PORT: String(http),
          POWERNODE_MTLS_PORT: String(mtls),
          // Two hubs on one machine: each its own IPFIX port (any free one).
          POWERNODE_IPFIX_PORT: "0",
          POWERNODE_NODE_URL: `https://127.0.0.1:${mtls}`,
          POWERNODE_HEARTBEAT_SECONDS: "1",
          // Both hubs on loopback; this smoke is about the shared database, not the operator TLS.
          POWERNODE_OPERATOR_PLAIN_HTTP: "1",
        },
      });
      t.defer(() => proc.stop().then(() => undefined));
      await waitFor(
        `${name} ready (log ${logFile})`,
        async () => {
          if (!proc.running()) throw proc.failure(await proc.exited);
          return readFileSync(logFile, "utf8").includes("powernode hub ready") || undefined;
        },
        { timeoutMs: 60_000, intervalMs: 100 },
      );
      return { proc, httpUrl: `http://127.0.0.1:${http}`, mtlsUrl: `https://127.0.0.1:${mtls}` };
    };
    // One after the other: the first migrates the empty database.
    const one = await t.step("hub 1 starts on the database", () => startHubProcess("hub1"));
    const two = await t.step("hub 2 starts on the same database and data dir", () => startHubProcess("hub2"));
    const token = readFileSync(join(dataDir, "admin.token"), "utf8").trim();
    const clients = (url: string) => {
      const bearer: Interceptor = (next) => (req) => {
        req.header.set("authorization", `Bearer ${token}`);
        return next(req);
      };
      const transport = createConnectTransport({ baseUrl: url, httpVersion: "1.1", interceptors: [bearer] });
      return {
        fleet: createClient(FleetService, transport),
        provision: createClient(ProvisionService, transport),
        catalog: createClient(CatalogService, transport),
      };
    };
    const h1 = clients(one.httpUrl);
    const h2 = clients(two.httpUrl);
    const caPem = (await h2.fleet.getCaCertificate({})).caPem;
    await t.check("both hubs serve the same fleet and CA", async () => {
      const ca1 = (await h1.fleet.getCaCertificate({})).caPem;
      if (ca1 !== caPem) throw new Error("the hubs present different CAs");
      return `CA ${ca1.length} bytes; nodes on hub 1 ${(await h1.fleet.listNodes({})).nodes.length}, hub 2 ${(await h2.fleet.listNodes({})).nodes.length}`;
    });

    // Every event row, as a stream on hub 1 sees it (hub 2's events come through LISTEN).
    const streamed: string[] = [];
    const abort = new AbortController();
    t.defer(() => abort.abort());
    const watching = (async () => {
      for await (const m of h1.fleet.watchEvents({}, { signal: abort.signal }))
        if (m.event) streamed.push(m.event.id);
    })().catch(() => undefined);

    const created = await t.step("create an instance (provider none) through hub 1", () =>
      h1.provision.createInstance({ name: `ha-${Date.now()}`, arch: Arch.AMD64, provider: "none" }),
    );
    const id = created.instance?.id ?? "";
    const stateDir = mkdtempSync(join(tmpdir(), "pn-ha-agent-"));
    t.defer(() => rmSync(stateDir, { recursive: true, force: true }));
    const identity = {
      instanceUuid: id,
      bootstrapToken: created.bootstrapToken,
      platformUrl: one.mtlsUrl,
      caPem,
    };
    const first = await startAgentSession({
      identity,
      stateDir,
      log: createMemoryLog(),
      backoff: { initialMs: 200, maxMs: 1000 },
    });
    await t.step("the node enrolls through hub 1", () =>
      first.waitFor("first heartbeat ack on hub 1", (s) => s.heartbeatsAcked() > 0, 30_000),
    );
    await first.stop();

    const session = await startAgentSession({
      identity: { ...identity, platformUrl: two.mtlsUrl, platformUrls: [two.mtlsUrl, one.mtlsUrl] },
      stateDir,
      log: createMemoryLog(),
      backoff: { initialMs: 200, maxMs: 1000 },
    });
    t.defer(() => session.stop());
    await t.check("with both URLs, the node reuses its certificate and watches on hub 2", async () => {
      await session.waitFor("a desired state from hub 2", (s) => s.desiredState() !== undefined, 30_000);
      if (session.hubUrl() !== two.mtlsUrl) throw new Error(`talking to ${session.hubUrl()}`);
      const enrolled = session.phaseEvents().filter((p) => p.kind === "system.agent.enrolled");
      if (enrolled[0]?.payload?.certificate !== "reused") throw new Error(JSON.stringify(enrolled));
      return `${session.hubUrl()}, certificate ${String(enrolled[0]?.payload?.certificate)}`;
    });

    await t.check("an assignment made through hub 1 reaches the node on hub 2 within 1 s", async () => {
      await h1.catalog.createModule({ name: "ha-mod" });
      await h1.catalog.createModuleVersion({
        moduleName: "ha-mod",
        version: "1",
        arch: Arch.AMD64,
        fsverityDigest: "a".repeat(64),
        verityRootHash: "b".repeat(64),
        ociDigest: `sha256:${"c".repeat(64)}`,
      });
      const sent = performance.now();
      await h1.provision.assignModules({ instanceId: id, modules: [{ name: "ha-mod" }] });
      await session.waitFor(
        "ha-mod in the desired state",
        (s) => s.desiredState()?.modules?.assignments.some((a) => a.name === "ha-mod") === true,
        1_000,
      );
      return `${(performance.now() - sent).toFixed(0)} ms from AssignModules on hub 1 to the node on hub 2`;
    });

    await t.check(
      "hub 2 killed mid-stream: the node continues on hub 1 without enrolling again",
      async () => {
        const acked = session.heartbeatsAcked();
        const killed = performance.now();
        await two.proc.stop({ signal: "SIGKILL" });
        await session.waitFor(
          "heartbeats acknowledged by hub 1",
          (s) => s.hubUrl() === one.mtlsUrl && s.heartbeatsAcked() > acked + 1,
          30_000,
        );
        const seconds = (performance.now() - killed) / 1000;
        const enrolled = session.phaseEvents().filter((p) => p.kind === "system.agent.enrolled");
        if (enrolled.length !== 1 || enrolled[0]?.payload?.certificate !== "reused")
          throw new Error(`enrollments: ${JSON.stringify(enrolled)}`);
        const node = (await h1.fleet.getNode({ id })).node;
        return `on ${session.hubUrl()} ${seconds.toFixed(1)} s after the kill; node ${NodeState[node?.state ?? 0]}`;
      },
    );

    await t.check("no event row is lost: hub 1's stream saw every row of the table", async () => {
      const rows = await waitFor(
        "the stream to catch up with the table",
        async () => {
          const all = (await h1.fleet.listEvents({ limit: 1000 })).events.map((e) => e.id);
          return all.length > 0 && all.every((r) => streamed.includes(r)) ? all : undefined;
        },
        { timeoutMs: 10_000, intervalMs: 200 },
      ).catch(async (e: unknown) => {
        const all = (await h1.fleet.listEvents({ limit: 1000 })).events.map((x) => x.id);
        throw new Error(
          `${all.filter((r) => !streamed.includes(r)).length} of ${all.length} rows never streamed (${e})`,
        );
      });
      return `${rows.length} rows, every one streamed (${streamed.length} stream messages)`;
    });
    abort.abort();
    await watching;
  },
});

if (import.meta.main) await runPass(haPass);
