/**
 * Pass 6, site tier: four QEMU nodes on a lab network. Three are members of one overlay network: the
 * server (persistent: a /persist disk) exports a share with the kernel's nfsd from the nfs-server
 * module at its VIP; the client mounts it and writes random files, the server's agent hashes the same
 * bytes; the gateway, a member never granted that share, is refused by the server's NFS firewall. The fourth node is
 * a NAS outside the mesh (gateway-tier.ts). An fscrypt share is written over NFS by the client; the
 * client's mount rides out the server's reboot; unassigning unmounts; last, the stopped server's disk
 * holds the encrypted file's name only as ciphertext. What nodes read and write is proven from the nodes (test-only debug hooks,
 * `powernode.debug=1`).
 */
import type { setDebugSpec } from "@powernode/hub";
import { EVENTS, NodeState } from "@powernode/proto";
import { cliFor } from "../../hub/src/cli/test-cli.ts";
import { connectQmp } from "../../hub/src/providers/qemu/qmp.ts";
import { exportFsid } from "../../node-agent/src/controllers/storage/nfs-config.ts";
import { buildModules, publishModules } from "../lib/built-modules.ts";
import { eventsOf as nodeEventsOf, probe as probeNode } from "../lib/debug-probe.ts";
import type { PassContext } from "../lib/pass.ts";
import { bootSiteNodes, type SiteNode, type SiteNodes } from "../lib/site-nodes.ts";
import { waitFor } from "../lib/wait.ts";
import { gatewayChecks } from "./gateway-tier.ts";

const NETWORK = "pass6-net";
const SHARE = "pass6-data";
const EXPORT_PATH = "/srv/exports/pass6-data";
const MOUNT_PATH = "/mnt/pass6-data";
/** 64 MiB of random files, in four. */
const FILES = [
  "pass6-cleartext-name-1",
  "pass6-cleartext-name-2",
  "pass6-cleartext-name-3",
  "pass6-cleartext-name-4",
] as const;
/** An encrypted storage on the server: names written into it must not reach its disk in the clear. */
const SECRET = "pass6-secret";
const SECRET_PATH = "/srv/exports/pass6-secret";
const SECRET_MOUNT = "/mnt/pass6-secret";
const SECRET_NAME = "pass6-secret-cleartext-name";
/** A file the server writes under /var (on /persist, not encrypted): the scan must find its name. */
const CONTROL = "/var/lib/pass6/pass6-control-name";
const FILE_MIB = 16;
/** How long the client's network is cut in the blip check. */
const BLIP_S = 20;
/** Generous under TCG: three emulated nodes share two host cores. */
const TIMEOUT_MS = 240_000;

/** The node's events of `kind` (for debug-spec version `version`, when given). */
const eventsOf = (site: SiteNodes, n: SiteNode, kind: string, version?: number) =>
  nodeEventsOf(site.hub, n, kind, version);

/** Sets `n`'s debug spec and waits for `count` events of `kind` for it; returns their payloads. */
const probe = (
  site: SiteNodes,
  n: SiteNode,
  spec: Parameters<typeof setDebugSpec>[2],
  kind: string,
  count: number,
  timeoutMs = TIMEOUT_MS,
) => probeNode(site.hub, n, spec, kind, count, timeoutMs);

/**
 * Which of `needles` occur in a stopped node's persist disk image (read on the host, chunk by chunk,
 * each chunk overlapping the last by a needle's length): a directory entry of an unencrypted directory
 * holds its name in the clear, an fscrypt one does not.
 */
async function onDisk(site: SiteNodes, n: SiteNode, needles: readonly string[]): Promise<string[]> {
  const info = (await site.hub.provision.getInstance({ id: n.instanceId })).instance?.providerInfo ?? {};
  const disk = info.persistDisk;
  if (!disk) throw new Error(`${n.name} has no persist disk in its provider info`);
  const found = new Set<string>();
  const keep = Math.max(...needles.map((x) => x.length));
  let tail = Buffer.alloc(0);
  for await (const chunk of Bun.file(disk).stream()) {
    const buf = Buffer.concat([tail, Buffer.from(chunk)]);
    for (const x of needles) if (buf.includes(x)) found.add(x);
    tail = buf.subarray(Math.max(0, buf.length - keep));
  }
  return [...found];
}

export async function storageSiteTier(t: PassContext): Promise<void> {
  const arch = t.args.arch;
  const built = await buildModules(t, arch, ["system-base", "nfs-server"]);
  const site = await bootSiteNodes(t, {
    arch,
    count: 4,
    names: ["nfs-server", "nfs-client", "nfs-gateway", "nas"],
    persistent: ["nfs-server"],
    template: "nfs",
    hub: { heartbeatSeconds: 5 },
    provider: { kernelArgs: ["powernode.debug=1"] },
    lab: { name: "pass6", index: 6 },
    async beforeCreate(s) {
      await t.step("publish system-base and nfs-server; template nfs = both", async () => {
        await publishModules(s, built);
        await s.provision.createTemplate({
          name: "nfs",
          modules: [{ name: "system-base" }, { name: "nfs-server" }],
        });
      });
    },
  });
  const [server, client, gateway, nas] = site.nodes as [SiteNode, SiteNode, SiteNode, SiteNode];
  const s = site.hub;
  const cli = cliFor(() => s.hub);
  const pnctl = async (...argv: string[]) => {
    const r = await cli(...argv);
    if (r.code !== 0) throw new Error(`pnctl ${argv.join(" ")}: exit ${r.code}: ${r.err}`);
    return r.out;
  };

  await t.step(`server, client and gateway join ${NETWORK} (the NAS does not); full mesh`, async () => {
    await pnctl("net", "create", NETWORK);
    for (const n of [server, client, gateway]) await pnctl("net", "join", NETWORK, n.instanceId);
    await waitFor(
      "every peer of every node up (GetMeshHealth)",
      async () => (await s.network.getMeshHealth({ network: NETWORK })).fullMesh || undefined,
      { timeoutMs: TIMEOUT_MS, intervalMs: 1000 },
    );
  });

  const share = await t.step(
    `storage create ${SHARE} on the server; assign the client at ${MOUNT_PATH}`,
    async () => {
      const created = JSON.parse(
        await pnctl(
          "storage",
          "create",
          SHARE,
          "--network",
          NETWORK,
          "--host",
          server.instanceId,
          "--path",
          EXPORT_PATH,
          "--json",
        ),
      ) as { id: string; vip: string };
      await pnctl("storage", "assign", SHARE, client.instanceId, "--mount", MOUNT_PATH);
      return created;
    },
  );
  const vip = share.vip;

  // A step: nothing after it means anything without the share mounted.
  await t.step(
    "the server exports at its VIP and the client mounts it (system.storage.mounted)",
    async () => {
      const started = performance.now();
      const [applied] = await waitFor(
        "the server's system.storage.exports_applied",
        async () => {
          const e = await eventsOf(site, server, EVENTS.storageExportsApplied.kind);
          return e.some((x) => Number(x.payload?.clients ?? 0) > 0) ? e : undefined;
        },
        { timeoutMs: TIMEOUT_MS, intervalMs: 1000 },
      );
      const mounted = await waitFor(
        "the client's system.storage.mounted",
        async () => (await eventsOf(site, client, EVENTS.storageMounted.kind))[0],
        { timeoutMs: TIMEOUT_MS, intervalMs: 1000 },
      );
      if (mounted.payload?.source !== `[${vip}]:${EXPORT_PATH}`)
        throw new Error(`mounted ${JSON.stringify(mounted.payload)}`);
      t.info(
        `${String(mounted.payload?.source)} at ${MOUNT_PATH} ${((performance.now() - started) / 1000).toFixed(1)} s after the assignment (exports ${JSON.stringify(applied?.payload?.exports)})`,
      );
    },
  );

  const written = await t.step(
    `the client writes ${FILES.length} x ${FILE_MIB} MiB of random bytes to the share`,
    async () => {
      const started = performance.now();
      const r = await probe(
        site,
        client,
        { write: FILES.map((f) => ({ path: `${MOUNT_PATH}/${f}`, mib: FILE_MIB })) },
        EVENTS.debugFile.kind,
        FILES.length,
      );
      const seconds = (performance.now() - started) / 1000;
      t.info(
        `written in ${seconds.toFixed(1)} s (${((FILES.length * FILE_MIB) / seconds).toFixed(1)} MiB/s incl. the hook's round trip)`,
      );
      return r;
    },
  );

  await t.check("the server's agent reads the same sha256 in its export directory", async () => {
    const bad = written.filter((w) => w.result !== "ok");
    if (bad.length > 0) throw new Error(`client writes failed: ${JSON.stringify(bad)}`);
    const read = await probe(
      site,
      server,
      { hash: FILES.map((f) => ({ path: `${EXPORT_PATH}/${f}` })) },
      EVENTS.debugFile.kind,
      FILES.length,
    );
    for (const f of FILES) {
      const w = written.find((x) => x.path === `${MOUNT_PATH}/${f}`);
      const r = read.find((x) => x.path === `${EXPORT_PATH}/${f}`);
      if (!w || !r || r.result !== "ok" || r.sha256 !== w.sha256 || r.bytes !== FILE_MIB * 2 ** 20)
        throw new Error(`${f}: client ${JSON.stringify(w)} server ${JSON.stringify(r)}`);
    }
    const total = read.reduce((n, r) => n + Number(r.bytes), 0);
    return `${FILES.length} files, ${total / 2 ** 20} MiB: sha256 equal on both sides (${String(read[0]?.sha256).slice(0, 12)}.. ...)`;
  });

  await t.check(
    "the client's agent tells the export (fsid from the storage id) from the server's v4 root (fsid 0:0)",
    async () => {
      const tried = await probe(
        site,
        client,
        {
          mount: [
            { source: `[${vip}]:${EXPORT_PATH}`, path: "/mnt/try-export" },
            { source: `[${vip}]:/srv/exports`, path: "/mnt/try-root" },
          ],
        },
        EVENTS.debugMount.kind,
        2,
      );
      const inExport = tried.find((x) => x.path === "/mnt/try-export");
      const inRoot = tried.find((x) => x.path === "/mnt/try-root");
      const want = exportFsid(share.id);
      if (inExport?.result !== "ok" || inExport.fsid !== want)
        throw new Error(`${EXPORT_PATH}: ${JSON.stringify(inExport)}, want fsid ${want}`);
      if (inRoot?.result !== "ok" || inRoot.fsid !== "0:0")
        throw new Error(`/srv/exports: ${JSON.stringify(inRoot)}, want fsid 0:0`);
      return `${EXPORT_PATH}: fsid ${String(inExport.fsid)}; /srv/exports: fsid 0:0`;
    },
  );

  await t.step(
    `an fscrypt storage ${SECRET} on the server, assigned to the client (added to the running server)`,
    async () => {
      await pnctl(
        ...["storage", "create", SECRET, "--network", NETWORK, "--host", server.instanceId],
        ...["--path", SECRET_PATH, "--encryption", "fscrypt"],
      );
      await pnctl("storage", "assign", SECRET, client.instanceId, "--mount", SECRET_MOUNT);
      await waitFor(
        "the server's system.storage.encrypted",
        async () =>
          (await eventsOf(site, server, EVENTS.storageEncrypted.kind)).find(
            (e) => e.payload?.storage === SECRET,
          ),
        { timeoutMs: TIMEOUT_MS, intervalMs: 1000 },
      );
      await waitFor(
        `the client's system.storage.mounted for ${SECRET}`,
        async () =>
          (await eventsOf(site, client, EVENTS.storageMounted.kind)).find(
            (e) => e.payload?.storage === SECRET,
          ),
        { timeoutMs: TIMEOUT_MS, intervalMs: 1000 },
      );
    },
  );

  await t.check(
    "fscrypt share over NFS: the client writes a file, the server's agent reads its sha256 in the encrypted directory",
    async () => {
      const [w] = await probe(
        site,
        client,
        { write: [{ path: `${SECRET_MOUNT}/${SECRET_NAME}`, mib: 1 }] },
        EVENTS.debugFile.kind,
        1,
      );
      if (w?.result !== "ok") throw new Error(`the client's write: ${JSON.stringify(w)}`);
      const [r] = await probe(
        site,
        server,
        { hash: [{ path: `${SECRET_PATH}/${SECRET_NAME}` }] },
        EVENTS.debugFile.kind,
        1,
      );
      if (r?.result !== "ok" || r.sha256 !== w.sha256)
        throw new Error(`client ${JSON.stringify(w)} server ${JSON.stringify(r)}`);
      return `1 MiB, sha256 ${String(r.sha256).slice(0, 12)}.. on both sides`;
    },
  );

  await t.step("the server writes a control file under /var (on /persist, not encrypted)", async () => {
    const [w] = await probe(site, server, { write: [{ path: CONTROL, mib: 1 }] }, EVENTS.debugFile.kind, 1);
    if (w?.result !== "ok") throw new Error(`write: ${JSON.stringify(w)}`);
  });

  await t.check("a member never granted (the gateway) is refused by the server's NFS firewall", async () => {
    const [r] = await probe(
      site,
      gateway,
      { mount: [{ source: `[${vip}]:${EXPORT_PATH}`, path: "/mnt/try" }] },
      EVENTS.debugMount.kind,
      1,
    );
    if (r?.result !== "error") throw new Error(`the ungranted node mounted the share: ${JSON.stringify(r)}`);
    // The firewall's TCP reset, on the VIP and port that serve the client (so nfsd is up): the
    // gateway's address is in no export line of the server. Not a malformed mount, not a timeout.
    if (!/connection refused/i.test(String(r.error))) throw new Error(`not a refusal: ${String(r.error)}`);
    return `refused: ${String(r.error)}`;
  });

  await gatewayChecks(t, site, { client, gateway, nas, network: NETWORK, pnctl });

  await t.check(
    `the client's share rides out a ${BLIP_S} s network blip (its link to the lab cut): reads succeed again (seconds printed)`,
    async () => {
      const info = (await s.provision.getInstance({ id: client.instanceId })).instance?.providerInfo ?? {};
      if (!info.qmpSocket) throw new Error(`${client.name}: no QMP socket in its provider info`);
      const qmp = await connectQmp(info.qmpSocket);
      try {
        // The tap side of the NIC: packets are dropped both ways, the guest sees no carrier change.
        await qmp.execute("set_link", { name: "net0", up: false });
        await Bun.sleep(BLIP_S * 1000);
        await qmp.execute("set_link", { name: "net0", up: true });
      } finally {
        qmp.close();
      }
      const started = performance.now();
      const [r] = await probe(
        site,
        client,
        { hash: [{ path: `${MOUNT_PATH}/${FILES[1]}` }] },
        EVENTS.debugFile.kind,
        1,
      );
      const w = written.find((x) => x.path === `${MOUNT_PATH}/${FILES[1]}`);
      if (r?.result !== "ok" || r.sha256 !== w?.sha256)
        throw new Error(`after the blip: ${JSON.stringify(r)}`);
      return `${FILES[1]} read with the same sha256 ${((performance.now() - started) / 1000).toFixed(1)} s after the link came back`;
    },
  );

  await t.check(
    "the client's mount survives the server rebooting: reads succeed again (seconds printed)",
    async () => {
      const started = performance.now();
      await s.provision.stopInstance({ id: server.instanceId });
      await s.provision.startInstance({ id: server.instanceId });
      const [r] = await probe(
        site,
        client,
        { hash: [{ path: `${MOUNT_PATH}/${FILES[0]}` }] },
        EVENTS.debugFile.kind,
        1,
      );
      const seconds = (performance.now() - started) / 1000;
      const w = written.find((x) => x.path === `${MOUNT_PATH}/${FILES[0]}`);
      if (r?.result !== "ok" || r.sha256 !== w?.sha256)
        throw new Error(`after the reboot: ${JSON.stringify(r)}`);
      const running = (await s.fleet.getNode({ id: server.instanceId })).node?.state === NodeState.RUNNING;
      return `${FILES[0]} read with the same sha256 ${seconds.toFixed(1)} s after the reboot began (server ${running ? "RUNNING" : "not yet RUNNING"})`;
    },
  );

  await t.check("unassign: the client unmounts the share (system.storage.unmounted)", async () => {
    await pnctl("storage", "unassign", SHARE, client.instanceId);
    const e = await waitFor(
      "the client's system.storage.unmounted",
      async () => (await eventsOf(site, client, EVENTS.storageUnmounted.kind))[0],
      { timeoutMs: 120_000, intervalMs: 1000 },
    );
    return `${String(e.payload?.target)} unmounted`;
  });

  await t.check(
    "fscrypt: the server's stopped disk holds the encrypted directory's file name only as ciphertext",
    async () => {
      // Last: the server stays stopped (the client's hard mount of the secret share then waits).
      await s.provision.stopInstance({ id: server.instanceId });
      const inClear = await onDisk(site, server, [SECRET_NAME, "pass6-control-name"]);
      const e = (await eventsOf(site, server, EVENTS.storageEncrypted.kind)).find(
        (x) => x.payload?.storage === SECRET,
      );
      if (!e) throw new Error("no system.storage.encrypted from the server");
      if (inClear.includes(SECRET_NAME)) throw new Error(`${SECRET_NAME} is on the disk in the clear`);
      // The control: a name under /var (same disk, not encrypted) is found, so the scan sees names at all.
      if (!inClear.includes("pass6-control-name"))
        throw new Error(`the control ${CONTROL} was not found on the disk`);
      return `key ${String(e.payload?.keyIdentifier).slice(0, 8)}..: ${SECRET_NAME} not on the disk, the control under /var is`;
    },
  );
}
