/**
 * `storage`: makes the desired state's `storage` section real on the node, level-triggered every pass.
 *
 * - Server (`storage.exports.apply`): with the nfs-server module in the composed root, each export's
 *   directory (on /persist when it is a disk, else a tmpfs), `/etc/exports` with the granted clients'
 *   overlay addresses only, a firewall admitting NFS from those addresses alone (nfs-firewall.ts),
 *   rpc.mountd supervised, `exportfs -r` on every change, the kernel's nfsd started (v4.1/4.2, no
 *   rpcbind). The VIP is the mesh controller's (the network section lists it).
 * - Gateway (`storage.gateway.provision`): the upstream share mounted at the re-export path before it is
 *   exported; the clients only ever see this node's VIP.
 * - Client (`storage.mount`): each share mounted at its path in the composed root and checked to be
 *   the export's filesystem (its fsid, from procfs): one that landed on the server's read-only v4 root
 *   is unmounted; a failed mount is retried every pass and named in the condition; `hard` mounts ride out server reboots in the kernel;
 *   shares no longer assigned are unmounted.
 * A module swap composes a new root: everything is set up again in it.
 */
import { join } from "node:path";
import {
  EVENTS,
  type NfsExport,
  type NfsGatewayUpstream,
  type NfsMount,
  type StorageSection,
} from "@powernode/proto";
import {
  type Controller,
  type ControllerContext,
  definePollingController,
} from "../../runtime/controller.ts";
import type { StorageOs } from "../../sys/nfs.ts";
import type { AgentDeps } from "../deps.ts";
import { errMsg } from "../modules/module-mounts.ts";
import { type Supervisor, startSupervisor } from "../modules/supervisor.ts";
import {
  DebugNasExports,
  DesiredNodeState,
  HubConnection,
  ModuleSetStatus,
  StorageStatus,
} from "../resources.ts";
import {
  exportFsid,
  exportfsArgv,
  exportsFile,
  NFS_ROOT,
  NFS_ROOT_FSID,
  nfsMountSpec,
  rpcMountdArgv,
  rpcNfsdArgv,
  rpcNfsdStopArgv,
  safePath,
} from "./nfs-config.ts";
import { nfsFirewallRuleset, nftApplyArgv, nftDeleteArgv } from "./nfs-firewall.ts";

export const STORAGE_POLL_MS = 5_000;
/** A mount that has not finished by then is killed and tried again next pass. */
export const MOUNT_TIMEOUT_MS = 30_000;
/** How long a new rpc.mountd may take to open the kernel's upcall channels (slow under emulation). */
export const MOUNTD_START_MS = 15_000;

interface Server {
  root: string;
  exports: string;
  mountd: Supervisor;
  /** Export paths bound into the NFS root. */
  published: Set<string>;
  /** Export directories made in the composed root (upstream mounts not included). */
  dirs: Set<string>;
  /** The firewall ruleset applied ("" none yet). */
  firewall: string;
}

/**
 * `debugNas`: also serve the test-only `debug.nas` exports (only where the debug-probes controller
 * runs, which writes them: the engine refuses an input nothing writes).
 */
export function storageController(
  deps: AgentDeps & { storage: StorageOs },
  opts: { debugNas?: boolean } = {},
): Controller {
  const os = deps.storage;
  let server: Server | undefined;
  /** Per mount target: the last error reported (an event per new error, not per pass). */
  const failed = new Map<string, string>();
  /** The last server failure logged (once per distinct message). */
  let serverError = "";
  /** fscrypt keys fetched this boot, by storage id (the hub is asked once per boot). */
  const keys = new Map<string, Uint8Array>();
  /** Storages whose encryption was reported this boot. */
  const encrypted = new Set<string>();

  /** An fscrypt export's directory: the hub's key added, the v2 policy on the (new) directory. */
  const encrypt = async (ctx: ControllerContext, e: NfsExport) => {
    let key = keys.get(e.storageId);
    if (!key) {
      const conn = ctx.get(HubConnection, "node")?.spec;
      if (!conn) throw new Error(`${e.name}: the key comes from the hub, which is not connected yet`);
      key = (await conn.link.current().storage.getExportKey({ storageId: e.storageId })).key;
      keys.set(e.storageId, key);
    }
    const r = os.encryptExportDir(e.storageId, key);
    if (encrypted.has(e.storageId)) return;
    encrypted.add(e.storageId);
    ctx.log.info(
      `storage: ${e.name}'s directory is fscrypt-encrypted (v2, key ${r.identifier.slice(0, 8)}..${r.created ? ", policy set now" : ""})`,
    );
    deps.phases.record(EVENTS.storageEncrypted.kind, {
      payload: { storage: e.name, keyIdentifier: r.identifier, policySetNow: r.created },
    });
  };

  const stopServer = async (ctx: ControllerContext) => {
    if (!server) return;
    const { root } = server;
    await os
      .runProgram(root, rpcNfsdStopArgv())
      .catch((e: unknown) => ctx.log.warn(`storage: stopping nfsd: ${errMsg(e)}`));
    if (server.firewall)
      await os
        .runProgram(root, nftDeleteArgv())
        .catch((e: unknown) => ctx.log.warn(`storage: removing the NFS firewall: ${errMsg(e)}`));
    await server.mountd.stop();
    server = undefined;
    ctx.log.info("storage: NFS server stopped");
  };

  /** Waits until the supervised rpc.mountd has the kernel's upcall channel open; throws after a while. */
  const mountdListening = async (mountd: Supervisor) => {
    const until = Date.now() + MOUNTD_START_MS;
    for (;;) {
      const pid = mountd.status()[0]?.pid;
      if (pid !== undefined && os.answersUpcalls(pid)) return;
      if (Date.now() > until)
        throw new Error(`rpc.mountd does not answer the kernel's upcalls after ${MOUNTD_START_MS / 1000} s`);
      await Bun.sleep(100);
    }
  };

  /**
   * When the share at `target` is a filesystem other than the export's `fsid` (the server's v4 root,
   * `0:0`, when it did not cross into the export at the time), unmounts it and returns why.
   */
  const wrongFilesystem = (target: string, fsid: string | undefined): string | undefined => {
    if (fsid === undefined) return undefined;
    const got = os.nfsFsid(target);
    if (got === undefined || got === fsid) return undefined;
    os.unmount(target);
    return `the server served ${got === NFS_ROOT_FSID ? "its NFS v4 root (fsid 0:0)" : `fsid ${got}`}, not the export (fsid ${fsid}); unmounted, mounting again`;
  };

  /**
   * Mounts `source` at `target` unless it is there; with `fsid` (a share of ours), also checks that the
   * mount is that export's filesystem. Returns the error, if any.
   */
  const ensureMount = async (
    ctx: ControllerContext,
    what: string,
    m: Pick<NfsMount, "source" | "options" | "name">,
    target: string,
    fsid?: string,
  ): Promise<string | undefined> => {
    if (os.isMounted(target)) {
      const wrong = wrongFilesystem(target, fsid);
      if (!wrong) {
        failed.delete(target);
        return undefined;
      }
      return reportMountError(ctx, what, m, target, wrong);
    }
    try {
      const spec = nfsMountSpec(what, m);
      await os.mountNfs(spec, target, MOUNT_TIMEOUT_MS);
      const wrong = wrongFilesystem(target, fsid);
      if (wrong) throw new Error(wrong);
      failed.delete(target);
      ctx.log.info(`storage: ${what} ${spec.source} mounted at ${target} (${spec.options})`);
      deps.phases.record(EVENTS.storageMounted.kind, {
        payload: { storage: m.name, target, source: spec.source },
      });
      return undefined;
    } catch (err) {
      return reportMountError(ctx, what, m, target, errMsg(err));
    }
  };

  /** Logs and records a mount error once per distinct message; returns it. */
  const reportMountError = (
    ctx: ControllerContext,
    what: string,
    m: Pick<NfsMount, "name">,
    target: string,
    msg: string,
  ): string => {
    if (failed.get(target) !== msg) {
      ctx.log.warn(`storage: ${what} at ${target}: ${msg}`);
      deps.phases.record(EVENTS.storageMountFailed.kind, {
        payload: { storage: m.name, target, error: msg },
      });
    }
    failed.set(target, msg);
    return msg;
  };

  /** Serves `exports` from `root`; returns what the condition says. */
  const serve = async (
    ctx: ControllerContext,
    root: string,
    exports: readonly NfsExport[],
    upstreams: readonly NfsGatewayUpstream[],
  ): Promise<{ ok: boolean; reason: string; message: string }> => {
    if (!os.hasNfsServer(root))
      return {
        ok: false,
        reason: "ModuleMissing",
        message: "missing: rpc.nfsd (assign the nfs-server module)",
      };
    const problems: string[] = [];
    const upstreamAt = new Map(upstreams.map((u) => [u.reExportPath, u]));
    for (const u of upstreams) {
      const target = join(root, safePath(`upstreams[${u.name}].re_export_path`, u.reExportPath));
      const err = await ensureMount(
        ctx,
        `gateway ${u.name}`,
        { name: u.name, source: u.upstream, options: u.options },
        target,
      );
      if (err) problems.push(`upstream ${u.name}: ${err}`);
    }
    if (server && server.root !== root) {
      ctx.log.info("storage: the composed root changed; restarting the NFS server in the new one");
      await stopServer(ctx);
    }
    const ready: NfsExport[] = [];
    for (const e of exports) {
      const path = safePath(`exports[${e.name}].export_path`, e.exportPath);
      if (e.deploymentShape === "gateway_proxy" || upstreamAt.has(path)) {
        // The upstream first: never export the empty directory under it.
        if (!os.isMounted(join(root, path))) continue;
      } else {
        if (e.encryption === "fscrypt") await encrypt(ctx, e);
        os.prepareExportDir(root, path, e.storageId);
      }
      ready.push(e);
    }
    const text = exportsFile(ready);
    os.prepareServer(root, text);
    if (!server) {
      const exec = os.programArgv(root, rpcMountdArgv());
      const mountd = startSupervisor(
        "/",
        [{ module: "nfs-server", service: { name: "rpc.mountd", exec, restart: "always" } }],
        {
          sys: os,
          log: ctx.log,
        },
      );
      server = { root, exports: "", mountd, published: new Set(), dirs: new Set(), firewall: "" };
    }
    // Only exports with clients appear in the v4 root: an empty mount point there is a directory of
    // the read-only root to whoever can see it.
    const served = ready.filter((e) => e.clients.length > 0);
    // The firewall first: nfsd never listens without it (when the module has nft).
    const sources = served.flatMap((e) => e.clients.map((c) => c.address));
    if (!os.hasNft(root)) problems.push("missing: nft (an nfs-server module with nftables): no NFS firewall");
    else {
      const rules = nfsFirewallRuleset(sources);
      if (server.firewall !== rules) {
        await os.runProgram(root, nftApplyArgv(os.writeRunFile("nfs-firewall.nft", rules)));
        server.firewall = rules;
        ctx.log.info(`storage: NFS firewall admits ${new Set(sources).size} client address(es)`);
      }
    }
    for (const e of served) os.publish(join(root, e.exportPath), NFS_ROOT, e.exportPath);
    const changed = server.exports !== text;
    if (changed) {
      await os.runProgram(root, exportfsArgv());
      server.exports = text;
    }
    if (os.nfsdThreads() === 0) {
      // Before mountd listens, the kernel answers its own export upcalls "no such export" and caches
      // that (a client would land on the read-only v4 root): nfsd waits for mountd.
      await mountdListening(server.mountd);
      await os.runProgram(root, rpcNfsdArgv());
      ctx.log.info(`storage: nfsd started (${os.nfsdThreads()} threads)`);
    }
    const paths = new Set(served.map((e) => e.exportPath));
    for (const p of server.published) {
      if (paths.has(p)) continue;
      os.unmount(join(NFS_ROOT, p));
      ctx.log.info(`storage: ${p} is no longer exported`);
    }
    server.published = paths;
    // An export that is gone (not one without clients) gives its directory up too.
    const dirs = new Set(
      ready
        .filter((e) => e.deploymentShape !== "gateway_proxy" && !upstreamAt.has(e.exportPath))
        .map((e) => e.exportPath),
    );
    for (const p of server.dirs) if (!dirs.has(p) && !upstreamAt.has(p)) os.unmount(join(root, p));
    server.dirs = dirs;
    if (changed) {
      ctx.log.info(
        `storage: ${served.length} export(s) applied${
          served.length
            ? `: ${text
                .split("\n")
                .filter((l) => l.startsWith("/"))
                .join("; ")}`
            : ""
        }`,
      );
      deps.phases.record(EVENTS.storageExportsApplied.kind, {
        payload: {
          exports: served.map((e) => e.name),
          clients: served.reduce((n, e) => n + e.clients.length, 0),
        },
      });
    }
    const waiting = exports.length - ready.length;
    if (waiting > 0) problems.push(`${waiting} re-export(s) wait for their upstream`);
    return problems.length > 0
      ? { ok: false, reason: "Degraded", message: problems.join("; ") }
      : { ok: true, reason: "Serving", message: `${ready.length} export(s) served` };
  };

  /** Unmounts NFS mounts in `root` that nothing wants any more (a share unassigned, an upstream gone). */
  const unmountStale = (ctx: ControllerContext, root: string | undefined, wanted: ReadonlySet<string>) => {
    for (const m of os.nfsMounts()) {
      if (wanted.has(m.target)) continue;
      if (root === undefined || !m.target.startsWith(`${root}/`)) continue;
      if (os.unmount(m.target)) {
        failed.delete(m.target);
        ctx.log.info(`storage: ${m.source} unmounted from ${m.target} (no longer assigned)`);
        deps.phases.record(EVENTS.storageUnmounted.kind, { payload: { source: m.source, target: m.target } });
      }
    }
  };

  const reconcile = async (ctx: ControllerContext): Promise<void> => {
    const section: StorageSection | undefined = ctx.get(DesiredNodeState, "node")?.spec.storage;
    // With powernode.debug=1, a test's stand-in NAS exports beside the hub's (debug.nas).
    const nas = opts.debugNas ? (ctx.get(DebugNasExports, "node")?.spec.exports ?? []) : [];
    const exports = [...(section?.exports ?? []), ...nas];
    const upstreams = section?.upstreams ?? [];
    const mounts = section?.mounts ?? [];
    const root = ctx.get(ModuleSetStatus, "node")?.spec.root;
    if (exports.length + upstreams.length + mounts.length === 0) {
      await stopServer(ctx);
      unmountStale(ctx, root, new Set());
      ctx.set(StorageStatus, "node", { exports: 0, mounts: [] });
      ctx.condition(true, "NoStorage", "");
      return;
    }
    if (!root) {
      ctx.condition(false, "NoRoot", "storage needs a composed root (assign system-base)");
      return;
    }
    const wanted = new Set([
      ...upstreams.map((u) => join(root, u.reExportPath)),
      ...mounts.map((m) => join(root, m.mountPath)),
    ]);
    unmountStale(ctx, root, wanted);
    const parts: string[] = [];
    let ok = true;
    if (exports.length + upstreams.length > 0) {
      const s = await serve(ctx, root, exports, upstreams).catch((e: unknown) => {
        const message = `NFS server: ${errMsg(e)}`;
        if (message !== serverError) ctx.log.warn(`storage: ${message}`);
        return { ok: false, reason: "ServerFailed", message };
      });
      serverError = s.ok ? "" : s.message;
      ok &&= s.ok;
      parts.push(s.message);
    } else await stopServer(ctx);
    const states: { name: string; path: string; mounted: boolean; error: string }[] = [];
    for (const m of mounts) {
      let path = m.mountPath;
      let error: string | undefined;
      try {
        path = safePath(`mounts[${m.name}].mount_path`, m.mountPath);
        error = await ensureMount(ctx, `share ${m.name}`, m, join(root, path), exportFsid(m.storageId));
      } catch (e) {
        error = errMsg(e);
      }
      states.push({ name: m.name, path, mounted: error === undefined, error: error ?? "" });
    }
    const bad = states.filter((s) => !s.mounted);
    if (mounts.length > 0) {
      parts.push(`${states.length - bad.length}/${states.length} share(s) mounted`);
      for (const b of bad) parts.push(`${b.name} at ${b.path}: ${b.error}`);
    }
    ok &&= bad.length === 0;
    ctx.set(StorageStatus, "node", { exports: exports.length, mounts: states });
    ctx.condition(ok, ok ? "Ready" : bad.length > 0 ? "MountFailed" : "Degraded", parts.join("; "));
  };

  return definePollingController({
    name: "storage",
    inputs: [DesiredNodeState, ModuleSetStatus, HubConnection, ...(opts.debugNas ? [DebugNasExports] : [])],
    outputs: [StorageStatus],
    pollMs: STORAGE_POLL_MS,
    reconcile,
    stop: stopServer,
  });
}
