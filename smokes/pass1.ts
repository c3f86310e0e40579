/**
 * Pass 1: the boot chain. catalog -> provider -> kernel + initramfs -> agent PID 1 -> enrolled -> heartbeat.
 *
 *   bun smokes/pass1.ts --tier db|single [--arch amd64|arm64]
 *
 * db:     a real hub; the real agent session code in process (no VM) enrolls, heartbeats and follows its
 *         desired state, then renews its certificate (one early renewal the operator allows; the old
 *         one is refused once the new one is used); the hub is stopped during enrollment and the agent
 *         must get in within one backoff period after it returns.
 * single: the image is built (or reused), one QEMU node boots it and must enroll and heartbeat by itself;
 *         then it updates its agent in place (pass1/agent-update.ts) and refuses a broken build.
 */
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { startHub } from "@powernode/hub";
import { createMemoryLog, createNodeKeyAndCsr, startAgentSession } from "@powernode/node-agent";
import { Arch, NodeService, NodeState } from "@powernode/proto";
import { freePort } from "../scripts/lib/postgres.ts";
import { agentPhases, assertInOrder, nodeEvents } from "./lib/events.ts";
import { operatorClients, type SmokeHub, startSmokeHub } from "./lib/hub.ts";
import { definePass, type PassContext, runPass } from "./lib/pass.ts";
import { bootSingleNode } from "./lib/single-node.ts";
import { waitFor } from "./lib/wait.ts";
import { agentUpdateChecks } from "./pass1/agent-update.ts";

const BOOT_PHASES = [
  "system.kernel.booted",
  "system.agent.started",
  "system.network.up",
  "system.agent.enrolled",
  "system.heartbeat.received",
];

/** Enroll with an already-used token must fail with FailedPrecondition; returns the message. */
export async function assertTokenConsumed(
  mtlsUrl: string,
  caPem: string,
  instanceUuid: string,
  token: string,
): Promise<string> {
  const transport = createConnectTransport({
    baseUrl: mtlsUrl,
    httpVersion: "2",
    nodeOptions: { ca: caPem },
  });
  const node = createClient(NodeService, transport);
  const { csrPem } = await createNodeKeyAndCsr(instanceUuid);
  try {
    await node.enroll({ bootstrapToken: token, instanceUuid, csrPem, agentVersion: "smoke" });
  } catch (err) {
    const e = ConnectError.from(err);
    if (e.code === Code.FailedPrecondition && /bootstrap_token/.test(e.rawMessage)) return e.rawMessage;
    throw new Error(`reusing the token gave ${Code[e.code]} "${e.rawMessage}", want FailedPrecondition`);
  }
  throw new Error("reusing the token succeeded");
}

export function assertCertificateCn(pem: string, instanceUuid: string): string {
  const cert = new X509Certificate(pem);
  const cn = cert.subject.match(/CN=([^\n,]+)/)?.[1];
  if (cn !== instanceUuid) throw new Error(`certificate CN is ${cn}, want ${instanceUuid}`);
  return `CN=${cn}, valid to ${cert.validTo}`;
}

async function dbTier(t: PassContext, s: SmokeHub): Promise<void> {
  const { hub, fleet, provision } = s;
  const created = await t.step("create an instance (provider none) and its bootstrap token", () =>
    provision.createInstance({
      name: `pass1-db-${Date.now()}`,
      arch: Arch.AMD64,
      provider: "none",
      start: true,
    }),
  );
  const id = created.instance?.id ?? "";
  const stateDir = mkdtempSync(join(tmpdir(), "pass1-agent-"));
  t.defer(() => rmSync(stateDir, { recursive: true, force: true }));
  const session = await startAgentSession({
    identity: {
      instanceUuid: id,
      bootstrapToken: created.bootstrapToken,
      platformUrl: hub.mtlsUrl,
      caPem: hub.caPem,
    },
    stateDir,
    log: createMemoryLog(),
    backoff: { initialMs: 200, maxMs: 2000 },
  });
  t.defer(() => session.stop());
  await t.step("agent session enrolls and gets a heartbeat acknowledged", () =>
    session.waitFor("first heartbeat ack", (x) => x.heartbeatsAcked() > 0, 30_000),
  );
  await t.check("node is RUNNING on the hub", async () => {
    const node = await waitFor(
      "node running",
      async () => {
        const n = (await fleet.getNode({ id })).node;
        return n?.state === NodeState.RUNNING ? n : undefined;
      },
      { timeoutMs: 10_000 },
    );
    return `agent ${node.agentVersion}, boot ${node.bootId.slice(0, 8)}`;
  });
  await t.check("certificate CN is the instance UUID", () =>
    assertCertificateCn(session.certificatePem() ?? "", id),
  );
  await t.check("bootstrap token is consumed (reuse -> FailedPrecondition)", () =>
    assertTokenConsumed(hub.mtlsUrl, hub.caPem, id, created.bootstrapToken),
  );
  await t.check("desired state document received", async () => {
    await session.waitFor("desired state", (x) => x.desiredState() !== undefined, 10_000);
    return `version ${session.desiredState()?.version}`;
  });
  await t.check(
    "attestation challenge: the agent signs its observations, the hub verifies them",
    async () => {
      await fleet.requestAttestation({ nodeId: id });
      const e = await waitFor(
        "system.attestation.verified (answered after the next heartbeat)",
        async () =>
          (await nodeEvents(fleet, id)).find(
            (x) => x.kind.startsWith("system.attestation.") && x.kind !== "system.attestation.requested",
          ),
        { timeoutMs: 30_000, intervalMs: 250 },
      );
      if (e.kind !== "system.attestation.verified") throw new Error(`${e.kind} ${JSON.stringify(e.payload)}`);
      return `${e.kind} (${e.payload?.modules} modules)`;
    },
  );
  await t.check("events in order", async () => {
    const hubSide = assertInOrder(
      (await nodeEvents(fleet, id)).map((e) => e.kind),
      ["system.instance.provisioned", "system.bootstrap_token.issued", "system.agent.enrolled"],
    );
    const agentSide = await waitFor(
      "agent phase events on the hub",
      async () => {
        const kinds = agentPhases(await nodeEvents(fleet, id)).map((p) => p.kind);
        return kinds.includes("system.heartbeat.received") ? kinds : undefined;
      },
      { timeoutMs: 15_000 },
    );
    return `${hubSide}; agent: ${assertInOrder(agentSide, ["system.agent.started", "system.agent.enrolled", "system.heartbeat.received"])}`;
  });
  await session.stop();
  await renewal(t, s, id, created.bootstrapToken, stateDir);
  await hubDownThenUp(t);
}

/**
 * Renewal against the real hub: the saved certificate is reused, the operator allows one early renewal
 * (a fresh bootstrap token), the agent renews and switches, and the old certificate is refused.
 */
async function renewal(
  t: PassContext,
  s: SmokeHub,
  id: string,
  usedToken: string,
  stateDir: string,
): Promise<void> {
  const { hub, fleet, provision } = s;
  const old = {
    cert: readFileSync(join(stateDir, "pki/node.crt"), "utf8"),
    key: readFileSync(join(stateDir, "pki/node.key"), "utf8"),
  };
  const oldClient = createClient(
    NodeService,
    createConnectTransport({
      baseUrl: hub.mtlsUrl,
      httpVersion: "2",
      nodeOptions: { ca: hub.caPem, cert: old.cert, key: old.key },
    }),
  );
  await t.check(
    "an early renewal without the operator's override is refused, naming the window",
    async () => {
      try {
        await oldClient.renewCertificate({ csrPem: (await createNodeKeyAndCsr(id)).csrPem });
      } catch (err) {
        const e = ConnectError.from(err);
        if (e.code === Code.FailedPrecondition && /window .* opens at/.test(e.rawMessage))
          return e.rawMessage;
        throw new Error(`early renewal gave ${Code[e.code]} "${e.rawMessage}", want FailedPrecondition`);
      }
      throw new Error("an early renewal was granted without an override");
    },
  );
  await t.step("the operator allows one early renewal (IssueBootstrapToken)", () =>
    provision.issueBootstrapToken({ instanceId: id }),
  );
  const identity = {
    instanceUuid: id,
    bootstrapToken: usedToken,
    platformUrl: hub.mtlsUrl,
    caPem: hub.caPem,
  };
  const session = await startAgentSession({
    identity,
    stateDir,
    log: createMemoryLog(),
    backoff: { initialMs: 200, maxMs: 2000 },
    // Due at once (the certificate is backdated): the hub allows it because of the override.
    renewal: { fraction: 1e-9, minIntervalMs: 3_600_000 },
  });
  t.defer(() => session.stop());
  await t.check("the agent renews and heartbeats on the new certificate", async () => {
    await session.waitFor("a renewal", (x) => x.certificateRenewals() >= 1, 30_000);
    const acked = session.heartbeatsAcked();
    await session.waitFor("a heartbeat after it", (x) => x.heartbeatsAcked() > acked, 30_000);
    if (session.certificatePem() === old.cert) throw new Error("still on the old certificate");
    return assertCertificateCn(session.certificatePem() ?? "", id);
  });
  await t.check("the old certificate is refused once the new one is used", async () => {
    try {
      await oldClient.heartbeat({ bootId: "pass1-old", agentVersion: "smoke" });
    } catch (err) {
      const e = ConnectError.from(err);
      if (e.code === Code.Unauthenticated) {
        const kinds = (await nodeEvents(fleet, id))
          .map((x) => x.kind)
          .filter((k) => k.startsWith("system.certificate."));
        return `${e.rawMessage}; events: ${kinds.join(", ")}`;
      }
      throw new Error(`old certificate gave ${Code[e.code]} "${e.rawMessage}", want Unauthenticated`);
    }
    throw new Error("the old certificate still heartbeats");
  });
  await t.check(
    "RevokeNodeCertificates: the node's calls are refused and the agent enrolls again",
    async () => {
      const before = session.certificatePem();
      const { serials } = await fleet.revokeNodeCertificates({ nodeId: id });
      if (serials.length === 0) throw new Error("no live certificate revoked");
      // What a restart through the provider does: the node's identity carries a fresh bootstrap token.
      identity.bootstrapToken = (await provision.issueBootstrapToken({ instanceId: id })).bootstrapToken;
      await session.waitFor(
        "a new certificate after the revocation",
        (x) => x.certificatePem() !== before,
        60_000,
      );
      const acked = session.heartbeatsAcked();
      await session.waitFor("a heartbeat on it", (x) => x.heartbeatsAcked() > acked, 30_000);
      return `${serials.length} revoked; enrolled again: ${assertCertificateCn(session.certificatePem() ?? "", id)}`;
    },
  );
  await session.stop();
}

/** The hub is down while the agent starts; it must enroll within one backoff period after the hub returns. */
async function hubDownThenUp(t: PassContext): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), "pass1-hub-"));
  t.defer(() => rmSync(dataDir, { recursive: true, force: true }));
  const ports = { httpPort: await freePort(), mtlsPort: await freePort() };
  const opts = { dataDir, databaseUrl: undefined, ...ports };
  const first = await startHub(opts);
  const ops = operatorClients(first.httpUrl, first.adminToken);
  const created = await ops.provision.createInstance({
    name: "pass1-retry",
    arch: Arch.AMD64,
    provider: "none",
  });
  const id = created.instance?.id ?? "";
  const identity = {
    instanceUuid: id,
    bootstrapToken: created.bootstrapToken,
    platformUrl: first.mtlsUrl,
    caPem: first.caPem,
  };
  await first.stop();

  const maxMs = 3000;
  const log = createMemoryLog();
  const stateDir = mkdtempSync(join(tmpdir(), "pass1-agent-"));
  t.defer(() => rmSync(stateDir, { recursive: true, force: true }));
  const session = await startAgentSession({ identity, stateDir, log, backoff: { initialMs: 250, maxMs } });
  t.defer(() => session.stop());
  await t.check("agent keeps retrying while the hub is down", async () => {
    await waitFor(
      "three failed attempts",
      () => log.lines.filter((l) => /unreachable|retrying/i.test(l)).length >= 3,
      {
        timeoutMs: 20_000,
      },
    );
    if (session.certificatePem()) throw new Error("enrolled while the hub was down");
    return log.lines.find((l) => /retrying/i.test(l))?.trim();
  });
  const second = await startHub(opts);
  t.defer(() => second.stop());
  const upAt = performance.now();
  await t.check(`agent enrolls within one backoff period (${maxMs} ms) after the hub returns`, async () => {
    await session.waitFor("enrolled after hub restart", (x) => x.heartbeatsAcked() > 0, maxMs + 5000);
    const ms = performance.now() - upAt;
    if (ms > maxMs + 1000) throw new Error(`took ${ms.toFixed(0)} ms`);
    return `${ms.toFixed(0)} ms after the hub came back`;
  });
}

export const pass1 = definePass({
  id: 1,
  title: "boot chain: provider -> kernel + initramfs -> agent PID 1 -> enrolled -> heartbeat",
  minTier: "db",
  async run(t) {
    if (t.args.tier === "db") {
      const s = await t.step("start a hub (in-memory PGlite)", () => startSmokeHub(t));
      await dbTier(t, s);
      return;
    }
    const node = await bootSingleNode(t, { arch: t.args.arch, name: `pass1-${t.args.arch}` });
    const { fleet, hub } = node.hub;
    const id = node.instanceId;
    await t.check("boot events in order", async () => {
      const events = await nodeEvents(fleet, id);
      const hubSide = assertInOrder(
        events.map((e) => e.kind),
        ["system.instance.provisioned", "system.bootstrap_token.issued", "system.qemu.domain_started"],
      );
      const phases = await waitFor(
        "all agent phases on the hub",
        async () => {
          const p = agentPhases(await nodeEvents(fleet, id));
          return p.some((x) => x.kind === "system.heartbeat.received") ? p : undefined;
        },
        { timeoutMs: 30_000 },
      );
      return `${hubSide}; agent: ${assertInOrder(
        phases.map((p) => p.kind),
        BOOT_PHASES,
      )}`;
    });
    await t.check("bootstrap token consumed (reuse -> FailedPrecondition)", () =>
      assertTokenConsumed(hub.mtlsUrl, hub.caPem, id, readFileSync(node.tokenFile, "utf8").trim()),
    );
    await t.check("certificate CN is the instance UUID", async () =>
      assertCertificateCn(await node.certificatePem(), id),
    );
    await t.check("no zombie processes on the node after the agent ran children", async () => {
      const hb = await waitFor("a heartbeat with observations", () => node.lastHeartbeat(), {
        timeoutMs: 30_000,
      });
      if (hb.zombieCount !== 0) throw new Error(`node reports ${hb.zombieCount} zombies`);
      if (hb.childrenRun < 1) throw new Error("the agent reports no children run: the check proves nothing");
      return `0 zombies after ${hb.childrenRun} children`;
    });
    await node.printTimings();
    await agentUpdateChecks(t, node, t.args.arch);
    await node.stopAndCheck();
  },
});

if (import.meta.main) await runPass(pass1);
