/**
 * Pass 6, db tier: a real hub and four in-process agents (server, client, gateway, one node never
 * granted), all members of one overlay network; everything through pnctl. The predecessor's two seeds,
 * checked on the desired state each agent receives.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AgentSession, createMemoryLog, startAgentSession } from "@powernode/node-agent";
import { Arch, type DesiredState } from "@powernode/proto";
import { cliFor } from "../../hub/src/cli/test-cli.ts";
import { renderExports } from "../../hub/src/storage/section.ts";
import { type SmokeHub, startSmokeHub } from "../lib/hub.ts";
import type { PassContext } from "../lib/pass.ts";

const UPSTREAM = "10.20.30.40";

async function startAgent(
  t: PassContext,
  s: SmokeHub,
  name: string,
): Promise<{ id: string; session: AgentSession }> {
  const created = await s.provision.createInstance({ name, arch: Arch.AMD64, provider: "none", start: true });
  const id = created.instance?.id ?? "";
  const stateDir = mkdtempSync(join(tmpdir(), "pass6-agent-"));
  t.defer(() => rmSync(stateDir, { recursive: true, force: true }));
  const session = await startAgentSession({
    identity: {
      instanceUuid: id,
      bootstrapToken: created.bootstrapToken,
      platformUrl: s.hub.mtlsUrl,
      caPem: s.hub.caPem,
    },
    stateDir,
    log: createMemoryLog(),
    backoff: { initialMs: 200, maxMs: 2000 },
  });
  t.defer(() => session.stop());
  await session.waitFor(`${name} heartbeats`, (x) => x.heartbeatsAcked() > 0, 30_000);
  return { id, session };
}

/** Waits until the agent holds a desired state for which `ok` holds; returns its storage section. */
async function storageOf(a: { session: AgentSession }, what: string, ok: (d: DesiredState) => boolean) {
  await a.session.waitFor(
    what,
    (x) => {
      const d = x.desiredState();
      return d !== undefined && ok(d);
    },
    10_000,
  );
  const st = a.session.desiredState()?.storage;
  if (!st) throw new Error("no storage section");
  return st;
}

export async function storageDbTier(t: PassContext): Promise<void> {
  const s = await t.step("start a hub", () => startSmokeHub(t));
  const pnctl = cliFor(() => s.hub);
  const run = async (...argv: string[]) => {
    const r = await pnctl(...argv);
    if (r.code !== 0) throw new Error(`pnctl ${argv.join(" ")} -> ${r.code}: ${r.err}`);
    return r.out;
  };
  type Agent = Awaited<ReturnType<typeof startAgent>>;
  const [server, client, gateway, outsider] = (await t.step("four in-process agents enroll", () =>
    Promise.all(["nfs-server", "nfs-client", "nfs-gateway", "not-granted"].map((n) => startAgent(t, s, n))),
  )) as [Agent, Agent, Agent, Agent];
  const net = JSON.parse(await run("net", "create", "storage-overlay", "--json")) as {
    id: string;
    handle: string;
  };
  const members = new Map<string, string>();
  for (const n of [server, client, gateway, outsider]) {
    const m = JSON.parse(await run("net", "join", "storage-overlay", n.id, "--json")) as {
      address: string;
    };
    members.set(n.id, m.address);
  }
  const clientAddress = members.get(client.id) ?? "";

  // Seed 15: self-hosted.
  let vip = "";
  await t.check("storage create (self_hosted, fscrypt): a VIP on the export host", async () => {
    const v = JSON.parse(
      await run(
        ...[
          "storage",
          "create",
          "smoke-nfs-self-hosted",
          "--network",
          "storage-overlay",
          "--host",
          server.id,
        ],
        ...["--path", "/srv/exports/smoke-data", "--encryption", "fscrypt", "--json"],
      ),
    ) as { vip: string; shape: string };
    if (v.shape !== "self_hosted" || !v.vip.includes(":dead:beef:")) throw new Error(JSON.stringify(v));
    vip = v.vip;
    return `VIP ${vip}`;
  });
  await t.check("storage assign: the client at /mnt/smoke-data, encryption inherited (fscrypt)", async () => {
    const v = JSON.parse(
      await run(
        "storage",
        "assign",
        "smoke-nfs-self-hosted",
        client.id,
        "--mount",
        "/mnt/smoke-data",
        "--json",
      ),
    ) as { effectiveEncryption: string; created: boolean };
    if (v.effectiveEncryption !== "fscrypt" || !v.created) throw new Error(JSON.stringify(v));
    return `effective encryption ${v.effectiveEncryption}`;
  });
  await t.check(
    "storage.exports.apply on the server: path, shape, the client's overlay address only",
    async () => {
      const st = await storageOf(
        server,
        "the server's export",
        (d) => (d.storage?.exports[0]?.clients.length ?? 0) > 0,
      );
      const e = st.exports[0];
      if (e?.exportPath !== "/srv/exports/smoke-data" || e.deploymentShape !== "self_hosted")
        throw new Error(JSON.stringify(e));
      if (e.clients.map((c) => c.address).join() !== clientAddress)
        throw new Error(`clients ${e.clients.map((c) => c.address)}`);
      if (e.allowedSources.join() !== clientAddress) throw new Error(`allowed ${e.allowedSources}`);
      if (e.vip !== vip || e.interfaceName !== `wg-sdwan-${net.handle}`)
        throw new Error(`${e.vip} on ${e.interfaceName}`);
      return `${st.exports.length} export(s): ${renderExports(st).trim()}; VIP on ${e.interfaceName}`;
    },
  );
  await t.check("storage.mount on the client: the VIP and the mount path, encryption fscrypt", async () => {
    const st = await storageOf(client, "the client's mount", (d) => (d.storage?.mounts.length ?? 0) > 0);
    const m = st.mounts[0];
    if (
      m?.source !== `[${vip}]:/srv/exports/smoke-data` ||
      m.mountPath !== "/mnt/smoke-data" ||
      m.encryption !== "fscrypt"
    )
      throw new Error(JSON.stringify(m));
    return `${m.source} at ${m.mountPath} (${m.options})`;
  });

  // Seed 16: gateway proxy.
  await t.check("storage create (gateway_proxy): upstream outside the mesh, re-export path", async () => {
    const v = JSON.parse(
      await run(
        ...["storage", "create", "smoke-gateway", "--network", "storage-overlay", "--host", gateway.id],
        ...["--path", "/var/lib/powernode/storage/smoke-gateway", "--upstream", `${UPSTREAM}:/srv/data`],
        ...["--upstream-options", "vers=4.2,proto=tcp,hard", "--json"],
      ),
    ) as { shape: string; upstream: string };
    if (v.shape !== "gateway_proxy" || v.upstream !== `${UPSTREAM}:/srv/data`)
      throw new Error(JSON.stringify(v));
    await run("storage", "assign", "smoke-gateway", client.id, "--mount", "/mnt/smoke-gateway");
    return `${v.upstream} via the gateway`;
  });
  await t.check(
    "storage.gateway.provision on the gateway: upstream, options, re-export path, unit",
    async () => {
      const st = await storageOf(
        gateway,
        "the gateway's upstream",
        (d) => (d.storage?.upstreams.length ?? 0) > 0,
      );
      const u = st.upstreams[0];
      if (
        u?.upstream !== `${UPSTREAM}:/srv/data` ||
        u.reExportPath !== "/var/lib/powernode/storage/smoke-gateway"
      )
        throw new Error(JSON.stringify(u));
      if (u.options !== "vers=4.2,proto=tcp,hard" || u.gatewayUnitName !== "nfs-gateway-smoke-gateway")
        throw new Error(JSON.stringify(u));
      return `${u.upstream} (${u.options}) -> ${u.reExportPath}, unit ${u.gatewayUnitName}`;
    },
  );
  await t.check(
    "storage.exports.apply on the gateway: deployment_shape gateway_proxy at the re-export path",
    async () => {
      const st = await storageOf(
        gateway,
        "the gateway's export",
        (d) => (d.storage?.exports[0]?.clients.length ?? 0) > 0,
      );
      const e = st.exports[0];
      if (
        e?.deploymentShape !== "gateway_proxy" ||
        e.exportPath !== "/var/lib/powernode/storage/smoke-gateway"
      )
        throw new Error(JSON.stringify(e));
      return `${e.exportPath} to ${e.clients.map((c) => c.address).join(", ")}`;
    },
  );
  await t.check("the client's storage section never holds the upstream address", async () => {
    const st = await storageOf(client, "both mounts", (d) => (d.storage?.mounts.length ?? 0) === 2);
    const text = JSON.stringify(st);
    if (text.includes(UPSTREAM)) throw new Error(`the client sees ${UPSTREAM}`);
    return st.mounts.map((m) => `${m.name}: ${m.source}`).join("; ");
  });

  await t.check("a node not granted gets no export line and no mount", async () => {
    const st = await storageOf(outsider, "a desired state", () => true);
    const exportsText = [server, gateway]
      .map((n) => JSON.stringify(n.session.desiredState()?.storage?.exports ?? []))
      .join();
    const addr = members.get(outsider.id) ?? "";
    if (exportsText.includes(addr)) throw new Error(`${addr} is in an export`);
    if (st.mounts.length + st.exports.length > 0) throw new Error(JSON.stringify(st));
    const refused = await pnctl("storage", "assign", "smoke-nfs-self-hosted", server.id, "--mount", "/mnt/x");
    if (refused.code === 0 || !refused.err.includes("does not mount its own share"))
      throw new Error(refused.err);
    return `${addr} in no export; assigning the export host to itself refused`;
  });
  await t.check(
    "unassign: the export line and the mount go; a storage with clients cannot be deleted",
    async () => {
      const busy = await pnctl("storage", "rm", "smoke-gateway");
      if (busy.code === 0 || !busy.err.includes("unassign them first")) throw new Error(busy.err);
      await run("storage", "unassign", "smoke-nfs-self-hosted", client.id);
      const st = await storageOf(
        server,
        "no clients on the server's export",
        (d) => d.storage?.exports[0]?.clients.length === 0,
      );
      const c = await storageOf(client, "one mount left", (d) => d.storage?.mounts.length === 1);
      await run("storage", "rm", "smoke-nfs-self-hosted");
      await storageOf(server, "no export", (d) => d.storage?.exports.length === 0);
      return `server export lines ${renderExports(st).length === 0 ? "none" : "left"}, client mounts ${c.mounts.map((m) => m.name)}`;
    },
  );
}
