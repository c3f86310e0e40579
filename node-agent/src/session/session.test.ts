import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestCa } from "../../test/test-ca.ts";
import { freePort, startTestHubFake, type TestHubFake } from "../../test/test-hub-fake.ts";
import { createMemoryLog, type MemoryLog } from "../log.ts";
import { createSystemClock } from "../runtime/clock.ts";
import { PHASES } from "../runtime/phases.ts";
import { type AgentSession, startAgentSession } from "./session.ts";

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "pn-agent-session-"));
  cleanup.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

async function hubFake(opts: Parameters<typeof startTestHubFake>[0] = {}): Promise<TestHubFake> {
  const hub = await startTestHubFake(opts);
  cleanup.push(() => hub.stop());
  return hub;
}

async function session(
  hub: { url: string; caPem: string },
  identity: { instanceUuid: string; bootstrapToken: string },
  stateDir: string,
  log: MemoryLog,
  backoff = { initialMs: 50, maxMs: 200 },
): Promise<AgentSession> {
  const s = await startAgentSession({
    identity: { ...identity, platformUrl: hub.url, caPem: hub.caPem },
    stateDir,
    log,
    backoff,
  });
  cleanup.push(() => s.stop());
  return s;
}

async function until(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(10);
  }
}

test("enroll -> heartbeat -> desired state -> report status, then a restart reuses the saved certificate", async () => {
  const hub = await hubFake({ heartbeatSeconds: 1 });
  const instanceUuid = crypto.randomUUID();
  const bootstrapToken = hub.issueToken(instanceUuid);
  const stateDir = tempDir();
  hub.failReports(1);
  const log = createMemoryLog();
  const s = await session(hub, { instanceUuid, bootstrapToken }, stateDir, log);

  await s.waitFor("first heartbeat ack", (x) => x.heartbeatsAcked() > 0);
  expect(hub.enrollments).toHaveLength(1);
  expect(hub.enrollments[0]).toMatchObject({ instanceUuid, bootstrapToken, agentVersion: "dev" });
  expect(s.certificatePem()).toContain("BEGIN CERTIFICATE");
  expect(statSync(join(stateDir, "pki/node.key")).mode & 0o777).toBe(0o600);
  const hb = hub.heartbeats[0];
  expect(hb?.cn).toBe(instanceUuid);
  expect(hb?.req.bootId).toBe(s.bootId);
  expect(hb?.req.agentRssBytes).toBeGreaterThan(0n);

  hub.setDesiredState({
    version: 3n,
    modules: { assignments: [{ name: "system-base", version: "1.0.0", priority: 10 }] },
  });
  await s.waitFor("desired state version 3", (x) => x.desiredState()?.version === 3n);
  expect(s.desiredState()?.modules?.assignments.map((m) => m.name)).toEqual(["system-base"]);
  expect(log.lines).toContain("powernode-agent: desired state version 3 received (1 modules)");

  // The first ReportStatus failed: the events stayed buffered and were delivered by a later call.
  await s.waitFor("every phase delivered", (x) => x.phaseEvents().every((p) => p.sent));
  const delivered = hub.reports.flatMap((r) => r.req.events.map((e) => e.kind));
  expect(delivered).toEqual([PHASES.agentStarted, PHASES.agentEnrolled, PHASES.heartbeatReceived]);
  expect(hub.reports.every((r) => r.cn === instanceUuid && r.req.bootId === s.bootId)).toBe(true);
  expect(
    log.lines.some((l) => l.startsWith("powernode-agent: warn: report status: hub unreachable (unavailable")),
  ).toBe(true);
  expect(log.lines).toContain(
    `powernode-agent: phase ${PHASES.heartbeatReceived} at ${s.phaseEvents()[2]?.uptimeSeconds.toFixed(2)}s`,
  );
  await s.stop();

  // Same state dir, same (now used) token: the saved certificate is reused and Enroll is skipped.
  const log2 = createMemoryLog();
  const s2 = await session(hub, { instanceUuid, bootstrapToken }, stateDir, log2);
  await s2.waitFor("heartbeat ack after restart", (x) => x.heartbeatsAcked() > 0);
  expect(hub.enrollments).toHaveLength(1);
  expect(s2.phaseEvents().find((p) => p.kind === PHASES.agentEnrolled)?.payload).toMatchObject({
    certificate: "reused",
  });
  // The hub's stream sends the current document at once on (re)connect.
  await s2.waitFor("desired state after restart", (x) => x.desiredState()?.version === 3n);
}, 30_000);

test("after the hub's CA is replaced, a saved certificate from the old CA is not reused: the node enrolls", async () => {
  const instanceUuid = crypto.randomUUID();
  const stateDir = tempDir();
  const oldHub = await hubFake();
  const s1 = await session(
    oldHub,
    { instanceUuid, bootstrapToken: oldHub.issueToken(instanceUuid) },
    stateDir,
    createMemoryLog(),
  );
  await s1.waitFor("first heartbeat ack", (x) => x.heartbeatsAcked() > 0);
  await s1.stop();
  // A new CA (a fresh fake): the identity names it and carries a fresh token, as a provider restart does.
  const newHub = await hubFake();
  const log = createMemoryLog();
  const s2 = await session(
    newHub,
    { instanceUuid, bootstrapToken: newHub.issueToken(instanceUuid) },
    stateDir,
    log,
  );
  await s2.waitFor("heartbeat ack from the new hub", (x) => x.heartbeatsAcked() > 0);
  expect(newHub.enrollments).toHaveLength(1);
  expect(s2.phaseEvents().find((p) => p.kind === PHASES.agentEnrolled)?.payload).toMatchObject({
    certificate: "issued",
  });
  expect(log.lines.some((l) => l.includes("(saved certificate is not issued by the identity's CA)"))).toBe(
    true,
  );
}, 30_000);

test("hub down at start: the agent says so each attempt, then enrolls within one backoff period of the hub coming up", async () => {
  const port = await freePort();
  const ca = await createTestCa();
  const tokens = new Map<string, string>();
  const instanceUuid = crypto.randomUUID();
  const bootstrapToken = "pnbt_test_token";
  tokens.set(instanceUuid, bootstrapToken);
  const log = createMemoryLog();
  const backoff = { initialMs: 100, maxMs: 1000 };
  const s = await session(
    { url: `https://127.0.0.1:${port}`, caPem: ca.caPem },
    { instanceUuid, bootstrapToken },
    tempDir(),
    log,
    backoff,
  );

  const refused = () =>
    log.lines.filter((l) => /enroll: hub unreachable \(ECONNREFUSED\), retrying in \d+\.\d s$/.test(l));
  await until("three refused enroll attempts", () => refused().length >= 3);
  await hubFake({ ca, port, tokens });
  // One backoff period (the cap, 1 s) plus time for the TLS handshake and signing on a busy machine.
  await s.waitFor("enrolled within one backoff period", (x) => x.certificatePem() !== undefined, 1000 + 4000);
  await s.waitFor("first heartbeat ack", (x) => x.heartbeatsAcked() > 0);
}, 30_000);

test("a refused token is reported as such and retried, never fatal", async () => {
  const hub = await hubFake();
  const instanceUuid = crypto.randomUUID();
  hub.issueToken(instanceUuid);
  const log = createMemoryLog();
  const s = await session(hub, { instanceUuid, bootstrapToken: "pnbt_wrong" }, tempDir(), log);
  await until(
    "two refused attempts",
    () => log.lines.filter((l) => l.includes("enroll: hub refused (permission_denied")).length >= 2,
  );
  expect(s.certificatePem()).toBeUndefined();
}, 30_000);

test("a hub whose certificate does not chain to the identity CA is not trusted", async () => {
  const hub = await hubFake();
  const other = await createTestCa("some other CA");
  const instanceUuid = crypto.randomUUID();
  const log = createMemoryLog();
  const s = await session(
    { url: hub.url, caPem: other.caPem },
    { instanceUuid, bootstrapToken: hub.issueToken(instanceUuid) },
    tempDir(),
    log,
  );
  await until("a failed attempt", () =>
    log.lines.some((l) => l.includes("enroll: hub certificate not trusted (SELF_SIGNED_CERT_IN_CHAIN)")),
  );
  expect(hub.enrollments).toHaveLength(0);
  expect(s.certificatePem()).toBeUndefined();
}, 30_000);

test("the certificate is renewed at the set fraction of its lifetime; calls continue on the new one", async () => {
  const hub = await hubFake({ heartbeatSeconds: 1, certBackdateMs: 0 });
  const instanceUuid = crypto.randomUUID();
  const stateDir = tempDir();
  const log = createMemoryLog();
  const s = await startAgentSession({
    identity: {
      instanceUuid,
      bootstrapToken: hub.issueToken(instanceUuid),
      platformUrl: hub.url,
      caPem: hub.caPem,
    },
    stateDir,
    log,
    backoff: { initialMs: 50, maxMs: 200 },
    // An hour-long certificate renewed after 0.02 % of it (0.72 s), then no sooner than 0.3 s apart.
    renewal: { fraction: 0.0002, minIntervalMs: 300 },
  });
  cleanup.push(() => s.stop());
  await s.waitFor("first heartbeat ack", (x) => x.heartbeatsAcked() > 0);
  const first = s.certificatePem();
  await s.waitFor("two renewals", (x) => x.certificateRenewals() >= 2, 10_000);
  expect(s.certificatePem()).not.toBe(first);
  expect(hub.renewals.every((cn) => cn === instanceUuid)).toBe(true);
  expect(await Bun.file(join(stateDir, "pki/node.crt")).text()).toBe(s.certificatePem() ?? "");
  const acked = s.heartbeatsAcked();
  await s.waitFor("a heartbeat on the renewed certificate", (x) => x.heartbeatsAcked() > acked);
  hub.setDesiredState({ version: 7n });
  await s.waitFor("desired state after the connection was replaced", (x) => x.desiredState()?.version === 7n);
  // A replacement is not an outage: nothing says the hub was unreachable.
  expect(log.lines.filter((l) => l.includes("warn:"))).toEqual([]);
}, 30_000);

test("a renewal refused as too early is retried when the hub says; the session goes on meanwhile", async () => {
  const hub = await hubFake({ heartbeatSeconds: 1, certBackdateMs: 0 });
  const instanceUuid = crypto.randomUUID();
  const log = createMemoryLog();
  const opensAt = new Date(Date.now() + 2_500);
  hub.refuseRenewalsUntil(opensAt);
  const s = await startAgentSession({
    identity: {
      instanceUuid,
      bootstrapToken: hub.issueToken(instanceUuid),
      platformUrl: hub.url,
      caPem: hub.caPem,
    },
    stateDir: tempDir(),
    log,
    backoff: { initialMs: 50, maxMs: 200 },
    // Due after 0.72 s: the fake refuses until `opensAt`, naming it.
    renewal: { fraction: 0.0002, minIntervalMs: 300 },
  });
  cleanup.push(() => s.stop());
  await s.waitFor("first heartbeat ack", (x) => x.heartbeatsAcked() > 0);
  const first = s.certificatePem();
  await until("a refused renewal", () => hub.refusedRenewals() > 0);
  const acked = s.heartbeatsAcked();
  await s.waitFor(
    "heartbeats on the current certificate while refused",
    (x) => x.heartbeatsAcked() > acked + 1,
  );
  expect(s.certificateRenewals()).toBe(0);
  expect(s.certificatePem()).toBe(first);
  await s.waitFor("the renewal once the window opened", (x) => x.certificateRenewals() >= 1, 10_000);
  expect(Date.now()).toBeGreaterThanOrEqual(opensAt.getTime());
  // One refusal, then it waited for the named time instead of asking every backoff period.
  expect(hub.refusedRenewals()).toBe(1);
  expect(log.lines.filter((l) => l.includes("certificate renewal: hub refused"))).toEqual([
    expect.stringContaining(`retrying at ${opensAt.toISOString()}`),
  ]);
  const after = s.heartbeatsAcked();
  await s.waitFor("a heartbeat on the renewed certificate", (x) => x.heartbeatsAcked() > after);
  expect(s.certificatePem()).not.toBe(first);
}, 30_000);

test("after enrolling, a hub restart is survived: heartbeats say unreachable, then resume; the watch reconnects", async () => {
  const port = await freePort();
  const ca = await createTestCa();
  const tokens = new Map<string, string>();
  const hub1 = await startTestHubFake({ ca, port, tokens, heartbeatSeconds: 1 });
  let hub1Stopped = false;
  cleanup.push(async () => {
    if (!hub1Stopped) await hub1.stop();
  });
  const instanceUuid = crypto.randomUUID();
  const log = createMemoryLog();
  const s = await session(
    hub1,
    { instanceUuid, bootstrapToken: hub1.issueToken(instanceUuid) },
    tempDir(),
    log,
    {
      initialMs: 100,
      maxMs: 300,
    },
  );
  await s.waitFor("first heartbeat ack", (x) => x.heartbeatsAcked() > 0);
  await hub1.stop();
  hub1Stopped = true;
  await until("a failed heartbeat", () => log.lines.some((l) => l.includes("heartbeat: hub unreachable (")));
  const hub2 = await hubFake({ ca, port, tokens, heartbeatSeconds: 1 });
  hub2.setDesiredState({ version: 2n });
  await s.waitFor("desired state from the restarted hub", (x) => x.desiredState()?.version === 2n, 10_000);
  await until("a heartbeat on the restarted hub", () => hub2.heartbeats.length > 0);
  expect(log.lines).toContain("powernode-agent: heartbeat: hub reachable again");
  expect(hub2.enrollments).toHaveLength(0);
}, 30_000);

test("a desired-state stream silent for longer than watchIdleMs is restarted", async () => {
  const hub = await hubFake({ heartbeatSeconds: 30 });
  const instanceUuid = crypto.randomUUID();
  const log = createMemoryLog();
  const s = await startAgentSession({
    identity: {
      instanceUuid,
      bootstrapToken: hub.issueToken(instanceUuid),
      platformUrl: hub.url,
      caPem: hub.caPem,
    },
    stateDir: tempDir(),
    log,
    watchIdleMs: 300,
    metrics: { zombieCount: () => 0, rssBytes: () => 1234, childrenSpawned: () => 3 },
  });
  cleanup.push(() => s.stop());
  await until("an idle restart", () =>
    log.lines.includes("powernode-agent: desired state watch: reconnecting (no message for 300 ms)"),
  );
  hub.setDesiredState({ version: 5n });
  await s.waitFor("desired state on the restarted stream", (x) => x.desiredState()?.version === 5n);
  expect(hub.openWatches()).toBe(1);
  expect(hub.heartbeats[0]?.req).toMatchObject({ zombieCount: 0, agentRssBytes: 1234n, childrenSpawned: 3 });
}, 30_000);

test("a node clock far from the hub's is called out once", async () => {
  const hub = await hubFake({ heartbeatSeconds: 1 });
  const instanceUuid = crypto.randomUUID();
  const log = createMemoryLog();
  const real = createSystemClock();
  // Ten minutes ahead: still inside the test CA's 1 h validity window.
  const clock = { ...real, now: () => new Date(Date.now() + 600_000) };
  const s = await startAgentSession({
    identity: {
      instanceUuid,
      bootstrapToken: hub.issueToken(instanceUuid),
      platformUrl: hub.url,
      caPem: hub.caPem,
    },
    stateDir: tempDir(),
    log,
    clock,
  });
  cleanup.push(() => s.stop());
  await s.waitFor("first heartbeat ack", (x) => x.heartbeatsAcked() > 0);
  expect(
    log.lines.filter((l) => /^powernode-agent: warn: clock: this node is 60\d s ahead of the hub$/.test(l)),
  ).toHaveLength(1);
}, 30_000);
