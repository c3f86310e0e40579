/**
 * The storage controller against a recording fake of the OS side (the kernel's nfsd and NFS mounts are
 * proven in QEMU by pass 6's site tier): what a server writes and runs, how a client mounts, retries
 * and reports, and what goes when the section empties.
 */
import { expect, setDefaultTimeout, test } from "bun:test";

setDefaultTimeout(20_000);

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { DesiredStateSchema, EVENTS } from "@powernode/proto";
import { assertResource, startTestEngine } from "../../../test/engine-harness.ts";
import { createSystemClock } from "../../runtime/clock.ts";
import { createPhaseRecorder } from "../../runtime/phases.ts";
import type { StorageOs } from "../../sys/nfs.ts";
import type { AgentDeps } from "../deps.ts";
import { DesiredNodeState, HubConnection, ModuleSetStatus, StorageStatus } from "../resources.ts";
import { exportFsid } from "./nfs-config.ts";
import { storageController } from "./storage-controller.ts";

const id = "0b7e6c2a-1f3d-4c5e-9a8b-7c6d5e4f3a2b";
const vip = "fd12:3456:789a:1:dead:beef:0:1a2b";

/** Records every call; mounts live in a set; `refuse` makes a mount of that source fail. */
function fakeStorageOs(opts: { nfsServer?: boolean; nft?: boolean } = {}) {
  const calls: string[] = [];
  const mounted = new Map<string, string>(); // target -> fstype
  const refuse = new Map<string, string>();
  let threads = 0;
  const live = new Set<{ kill(): void }>();
  let exportsText = "";
  /** What the kernel reports a mounted share's fsid to be, by target (default: the export's). */
  const fsids = new Map<string, string>();
  /** Whether rpc.mountd has opened the kernel's upcall channel yet. */
  const mountd = { listening: true };
  const files = new Map<string, string>();
  const os: StorageOs = {
    hasNfsServer: () => opts.nfsServer ?? true,
    hasNft: () => opts.nft ?? true,
    writeRunFile(name, text) {
      files.set(name, text);
      return `/run/powernode/storage/${name}`;
    },
    prepareServer(_root, text) {
      const changed = text !== exportsText;
      exportsText = text;
      return changed;
    },
    nfsdThreads: () => threads,
    programArgv: (_root, argv) => [...argv],
    async runProgram(_root, argv) {
      calls.push(argv.join(" "));
      if (argv[0] === "/usr/sbin/rpc.nfsd") threads = Number(argv.at(-1));
      return "";
    },
    spawnService(s) {
      calls.push(`spawn ${s.argv.join(" ")}`);
      let done: (code: number) => void = () => {};
      const p = { pid: 4242, exited: new Promise<number>((r) => (done = r)), kill: () => done(143) };
      live.add(p);
      return p;
    },
    prepareExportDir(root, path) {
      mounted.set(join(root, path), "tmpfs");
      return "tmpfs";
    },
    encryptExportDir(id) {
      calls.push(`encrypt ${id}`);
      return { identifier: "ab".repeat(16), created: true };
    },
    publish(_source, nfsRoot, path) {
      mounted.set(join(nfsRoot, path), "bind");
    },
    unmount(target) {
      calls.push(`umount ${target}`);
      return mounted.delete(target);
    },
    isMounted: (t) => mounted.has(t),
    async mountNfs(spec, target) {
      calls.push(`mount ${spec.source} ${target} ${spec.options}`);
      const why = refuse.get(spec.source);
      if (why) throw new Error(why);
      mounted.set(target, spec.fstype);
    },
    nfsMounts: () =>
      [...mounted]
        .filter(([, f]) => f === "nfs4")
        .map(([target, fstype]) => ({ source: "?", target, fstype })),
    nfsFsid: (t) => (mounted.get(t) === "nfs4" ? (fsids.get(t) ?? exportFsid(id)) : undefined),
    answersUpcalls: () => mountd.listening,
  };
  return { os, calls, mounted, refuse, live, fsids, mountd, files, exportsText: () => exportsText };
}

/** Polls `ok` (what the store does not show: calls made without a status change). */
async function until(what: string, ok: () => boolean, timeoutMs = 5_000) {
  const end = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`${what}: not after ${timeoutMs} ms`);
    await Bun.sleep(10);
  }
}

/** A connected hub whose StorageNodeService answers GetExportKey with `key` (and counts the calls). */
function hubWithKey(key = new Uint8Array(64).fill(7)) {
  let asked = 0;
  const getExportKey = async () => {
    asked++;
    return { key };
  };
  const link = { current: () => ({ storage: { getExportKey } }) };
  return {
    seed: { type: HubConnection, id: "node", spec: { link, generation: 1 } as never },
    asked: () => asked,
  };
}

const section = (over: object) => create(DesiredStateSchema, { version: 2n, storage: over });

/** An engine running the storage controller over `f` with a section and a composed root at `root`. */
function startStorage(
  f: ReturnType<typeof fakeStorageOs>,
  root: string,
  over: object,
  phases = createPhaseRecorder(createSystemClock()),
) {
  const deps = { phases } as unknown as AgentDeps;
  return startTestEngine(
    [storageController({ ...deps, storage: f.os })],
    [
      { type: DesiredNodeState, id: "node", spec: section(over) },
      { type: ModuleSetStatus, id: "node", spec: { observations: [], appliedVersion: 2n, root } },
      hubWithKey().seed,
    ],
  );
}

const oneClient = [{ nodeId: "c", address: "fd12:3456:789a:1::c", options: "" }];

test("server: export dir, /etc/exports with the granted client only, mountd, exportfs -r, nfsd; a change re-exports", async () => {
  const root = mkdtempSync(join(tmpdir(), "storage-root-"));
  const f = fakeStorageOs();
  const phases = createPhaseRecorder(createSystemClock());
  const deps = { phases } as unknown as AgentDeps;
  const exp = {
    storageId: id,
    name: "data",
    exportPath: "/srv/data",
    deploymentShape: "self_hosted",
    clients: [
      { nodeId: "c", address: "fd12:3456:789a:1::c", options: "rw,sync,no_subtree_check,root_squash" },
    ],
    vip,
  };
  await using engine = startTestEngine(
    [storageController({ ...deps, storage: f.os })],
    [
      { type: DesiredNodeState, id: "node", spec: section({ exports: [exp] }) },
      { type: ModuleSetStatus, id: "node", spec: { observations: [], appliedVersion: 2n, root } },
      hubWithKey().seed,
    ],
  );
  await assertResource(engine, StorageStatus, "node", { exports: 1, mounts: [] });
  expect(f.exportsText()).toContain(
    `/run/powernode/nfs4/srv/data fd12:3456:789a:1::c(rw,sync,no_subtree_check,root_squash,fsid=${id})`,
  );
  expect(f.mounted.get(join(root, "srv/data"))).toBe("tmpfs");
  expect(f.mounted.get("/run/powernode/nfs4/srv/data")).toBe("bind");
  const nft = "/usr/sbin/nft -f /run/powernode/storage/nfs-firewall.nft";
  expect(f.calls).toEqual([
    "spawn /usr/sbin/rpc.mountd --foreground --no-nfs-version 2 --no-nfs-version 3 --no-udp",
    nft,
    "/usr/sbin/exportfs -r",
    expect.stringMatching(/^\/usr\/sbin\/rpc\.nfsd .* 8$/),
  ]);
  expect(f.files.get("nfs-firewall.nft")).toContain("elements = { fd12:3456:789a:1::c }");
  expect(phases.all().filter((p) => p.kind === EVENTS.storageExportsApplied.kind)).toHaveLength(1);

  // The client is unassigned: the line goes, exportfs runs again, nfsd keeps running.
  f.calls.length = 0;
  engine.store.set(DesiredNodeState, "node", section({ exports: [{ ...exp, clients: [] }] }));
  await until("exportfs after the change", () => f.calls.length > 2);
  expect(f.exportsText()).not.toContain("fd12");
  expect(f.files.get("nfs-firewall.nft")).not.toContain("fd12");
  // Its mount point leaves the v4 root; the directory (and what is in it) stays.
  expect(f.calls).toEqual([nft, "/usr/sbin/exportfs -r", "umount /run/powernode/nfs4/srv/data"]);
  expect(f.mounted.get(join(root, "srv/data"))).toBe("tmpfs");

  // No storage left: nfsd is stopped, mountd killed.
  f.calls.length = 0;
  engine.store.set(DesiredNodeState, "node", create(DesiredStateSchema, { version: 3n }));
  await assertResource(engine, StorageStatus, "node", { exports: 0, mounts: [] });
  expect(f.calls).toEqual(["/usr/sbin/rpc.nfsd 0", "/usr/sbin/nft delete table inet powernode_nfs"]);
  rmSync(root, { recursive: true, force: true });
});

test("server without the nfs-server module: nothing runs, the condition says which module", async () => {
  const root = mkdtempSync(join(tmpdir(), "storage-root-"));
  const f = fakeStorageOs({ nfsServer: false });
  const deps = { phases: createPhaseRecorder(createSystemClock()) } as unknown as AgentDeps;
  await using engine = startTestEngine(
    [storageController({ ...deps, storage: f.os })],
    [
      {
        type: DesiredNodeState,
        id: "node",
        spec: section({ exports: [{ storageId: id, name: "d", exportPath: "/srv/d", clients: [] }] }),
      },
      { type: ModuleSetStatus, id: "node", spec: { observations: [], appliedVersion: 2n, root } },
      hubWithKey().seed,
    ],
  );
  await assertResource(engine, StorageStatus, "node", { exports: 1, mounts: [] });
  expect(f.calls).toEqual([]);
  const status = engine.store.get(StorageStatus, "node");
  expect(status?.spec.exports).toBe(1);
  rmSync(root, { recursive: true, force: true });
});

test("client: a refused mount is named and retried; once it mounts the status says so; unassigned, it is unmounted", async () => {
  const root = mkdtempSync(join(tmpdir(), "storage-root-"));
  const f = fakeStorageOs();
  const phases = createPhaseRecorder(createSystemClock());
  const source = `[${vip}]:/srv/data`;
  f.refuse.set(source, "mount: permission denied");
  const mount = {
    storageId: id,
    name: "data",
    source,
    mountPath: "/mnt/data",
    options: "vers=4.2,proto=tcp,hard",
  };
  await using engine = startStorage(f, root, { mounts: [mount] }, phases);
  await assertResource(engine, StorageStatus, "node", {
    exports: 0,
    mounts: [{ name: "data", path: "/mnt/data", mounted: false, error: "mount: permission denied" }],
  });
  expect(f.calls).toEqual([`mount ${source} ${join(root, "mnt/data")} vers=4.2,proto=tcp6,hard,addr=${vip}`]);
  expect(phases.all().filter((p) => p.kind === EVENTS.storageMountFailed.kind)).toHaveLength(1);

  // The grant arrives on the server: the next pass (woken here by a new root status) mounts it.
  f.refuse.clear();
  engine.store.set(ModuleSetStatus, "node", { observations: [], appliedVersion: 3n, root });
  await assertResource(engine, StorageStatus, "node", {
    exports: 0,
    mounts: [{ name: "data", path: "/mnt/data", mounted: true, error: "" }],
  });
  expect(phases.all().filter((p) => p.kind === EVENTS.storageMounted.kind)).toHaveLength(1);

  engine.store.set(DesiredNodeState, "node", create(DesiredStateSchema, { version: 4n }));
  await assertResource(engine, StorageStatus, "node", { exports: 0, mounts: [] });
  expect(f.calls.at(-1)).toBe(`umount ${join(root, "mnt/data")}`);
  expect(f.mounted.has(join(root, "mnt/data"))).toBe(false);
  expect(phases.all().filter((p) => p.kind === EVENTS.storageUnmounted.kind)).toHaveLength(1);
  rmSync(root, { recursive: true, force: true });
});

test("an fscrypt export: the key from the hub once, the directory encrypted, then served", async () => {
  const root = mkdtempSync(join(tmpdir(), "storage-root-"));
  const f = fakeStorageOs();
  const hub = hubWithKey();
  const phases = createPhaseRecorder(createSystemClock());
  const deps = { phases } as unknown as AgentDeps;
  const exp = {
    storageId: id,
    name: "secret",
    exportPath: "/srv/secret",
    deploymentShape: "self_hosted",
    encryption: "fscrypt",
    clients: [{ nodeId: "c", address: "fd12:3456:789a:1::c", options: "" }],
  };
  await using engine = startTestEngine(
    [storageController({ ...deps, storage: f.os })],
    [
      { type: DesiredNodeState, id: "node", spec: section({ exports: [exp] }) },
      { type: ModuleSetStatus, id: "node", spec: { observations: [], appliedVersion: 2n, root } },
      hub.seed,
    ],
  );
  await assertResource(engine, StorageStatus, "node", { exports: 1, mounts: [] });
  expect(f.calls[0]).toBe(`encrypt ${id}`);
  expect(hub.asked()).toBe(1);
  expect(f.mounted.get("/run/powernode/nfs4/srv/secret")).toBe("bind");
  expect(f.exportsText()).toContain(`/run/powernode/nfs4/srv/secret fd12:3456:789a:1::c(`);
  const e = phases.all().filter((p) => p.kind === EVENTS.storageEncrypted.kind);
  expect(e.map((p) => p.payload)).toEqual([
    { storage: "secret", keyIdentifier: "ab".repeat(16), policySetNow: true },
  ]);
  // A later pass (a new root status) checks again without asking the hub again.
  engine.store.set(ModuleSetStatus, "node", { observations: [], appliedVersion: 3n, root });
  await until("a second encrypt check", () => f.calls.filter((c) => c.startsWith("encrypt")).length >= 2);
  expect(hub.asked()).toBe(1);
  rmSync(root, { recursive: true, force: true });
});

test("server: nfsd starts only once rpc.mountd answers the kernel's upcalls", async () => {
  const root = mkdtempSync(join(tmpdir(), "storage-root-"));
  const f = fakeStorageOs();
  f.mountd.listening = false;
  const exp = {
    storageId: id,
    name: "data",
    exportPath: "/srv/data",
    clients: oneClient,
  };
  await using engine = startStorage(f, root, { exports: [exp] });
  await until("exportfs", () => f.calls.includes("/usr/sbin/exportfs -r"));
  await Bun.sleep(300);
  expect(f.calls.some((c) => c.startsWith("/usr/sbin/rpc.nfsd"))).toBe(false);
  f.mountd.listening = true;
  await until("nfsd started", () => f.calls.some((c) => c.startsWith("/usr/sbin/rpc.nfsd")));
  await assertResource(engine, StorageStatus, "node", { exports: 1, mounts: [] });
  rmSync(root, { recursive: true, force: true });
});

test("server: an export without clients keeps its directory but stays out of the v4 root", async () => {
  const root = mkdtempSync(join(tmpdir(), "storage-root-"));
  const f = fakeStorageOs();
  const exp = { storageId: id, name: "data", exportPath: "/srv/data", clients: [] };
  await using engine = startStorage(f, root, { exports: [exp] });
  await assertResource(engine, StorageStatus, "node", { exports: 1, mounts: [] });
  expect(f.mounted.get(join(root, "srv/data"))).toBe("tmpfs");
  expect(f.mounted.has("/run/powernode/nfs4/srv/data")).toBe(false);
  // The storage is deleted: its directory goes too.
  engine.store.set(
    DesiredNodeState,
    "node",
    section({
      exports: [{ ...exp, storageId: "1b7e6c2a-1f3d-4c5e-9a8b-7c6d5e4f3a2b", exportPath: "/srv/other" }],
    }),
  );
  await until("the old directory unmounted", () => !f.mounted.has(join(root, "srv/data")));
  expect(f.mounted.get(join(root, "srv/other"))).toBe("tmpfs");
  rmSync(root, { recursive: true, force: true });
});

test("client: a mount that landed on the server's v4 root (fsid 0:0) is unmounted, named and mounted again", async () => {
  const root = mkdtempSync(join(tmpdir(), "storage-root-"));
  const f = fakeStorageOs();
  const phases = createPhaseRecorder(createSystemClock());
  const target = join(root, "mnt/data");
  f.fsids.set(target, "0:0");
  const mount = { storageId: id, name: "data", source: `[${vip}]:/srv/data`, mountPath: "/mnt/data" };
  await using engine = startStorage(f, root, { mounts: [mount] }, phases);
  await assertResource(engine, StorageStatus, "node", {
    exports: 0,
    mounts: [
      {
        name: "data",
        path: "/mnt/data",
        mounted: false,
        error: `the server served its NFS v4 root (fsid 0:0), not the export (fsid ${exportFsid(id)}); unmounted, mounting again`,
      },
    ],
  });
  expect(f.mounted.has(target)).toBe(false);
  expect(f.calls.slice(0, 2)).toEqual([expect.stringMatching(/^mount /), `umount ${target}`]);
  // The server crosses into the export now: the next pass mounts it and keeps it.
  f.fsids.delete(target);
  engine.store.set(ModuleSetStatus, "node", { observations: [], appliedVersion: 3n, root });
  await assertResource(engine, StorageStatus, "node", {
    exports: 0,
    mounts: [{ name: "data", path: "/mnt/data", mounted: true, error: "" }],
  });
  // Later the kernel reports another filesystem there (the server swapped what it serves): unmounted.
  f.fsids.set(target, "1:0");
  engine.store.set(ModuleSetStatus, "node", { observations: [], appliedVersion: 4n, root });
  await until("the wrong filesystem unmounted", () => f.calls.at(-1) === `umount ${target}`);
  rmSync(root, { recursive: true, force: true });
});

test("server: a module without nft serves, and the condition says there is no firewall", async () => {
  const root = mkdtempSync(join(tmpdir(), "storage-root-"));
  const f = fakeStorageOs({ nft: false });
  const exp = {
    storageId: id,
    name: "data",
    exportPath: "/srv/data",
    clients: oneClient,
  };
  await using engine = startStorage(f, root, { exports: [exp] });
  await assertResource(engine, StorageStatus, "node", { exports: 1, mounts: [] });
  await until("nfsd started", () => f.calls.some((c) => c.startsWith("/usr/sbin/rpc.nfsd")));
  expect(f.calls.some((c) => c.includes("nft"))).toBe(false);
  rmSync(root, { recursive: true, force: true });
});
