import { expect, test } from "bun:test";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import type { ModuleManifest } from "@powernode/oci";
import {
  DebugLayer,
  type DebugSpecSchema,
  type DesiredState,
  DesiredStateSchema,
  type ModuleAssignment,
  ModuleAssignmentSchema,
} from "@powernode/proto";
import { createRecordingModuleSysFake } from "../../../test/module-sys-fake.ts";
import { createMemoryLog } from "../../log.ts";
import { createSystemClock } from "../../runtime/clock.ts";
import { createPhaseRecorder } from "../../runtime/phases.ts";
import { ModuleFetchError, type ModuleFiles } from "./fetch-module.ts";
import { createModuleSet } from "./module-set.ts";

const hex = (c: string) => c.repeat(64);

function assignment(name: string, version: string, digestChar: string, priority = 10): ModuleAssignment {
  return create(ModuleAssignmentSchema, {
    name,
    version,
    priority,
    ociReference: `http://10.0.2.2:8080/modules/${name}@sha256:${hex("e")}`,
    metadataDigest: hex(digestChar),
    verityRootHash: hex(String.fromCharCode(digestChar.charCodeAt(0) + 1)),
  });
}

type DebugSpecInit = MessageInitShape<typeof DebugSpecSchema>;

function desired(version: number, modules: ModuleAssignment[], debug?: DebugSpecInit): DesiredState {
  return create(DesiredStateSchema, { version: BigInt(version), modules: { assignments: modules }, debug });
}

function manifestFor(a: ModuleAssignment, services: ModuleManifest["services"] = []): ModuleManifest {
  return {
    schemaVersion: 1,
    name: a.name,
    version: a.version,
    arch: "amd64",
    priority: a.priority,
    services,
    metadataDigest: a.metadataDigest,
    verityRootHash: a.verityRootHash,
    veritySalt: "ab",
    verityDataBlocks: 3,
    sizes: { metadata: 1, blob: 1, verity: 1 },
    sha256: { metadata: hex("1"), blob: hex("2"), verity: hex("3") },
    source: {},
  };
}

function setup(opts: { debug?: boolean; services?: Record<string, ModuleManifest["services"]> } = {}) {
  const sys = createRecordingModuleSysFake();
  const log = createMemoryLog();
  const phases = createPhaseRecorder(createSystemClock(), log);
  const fetchErrors = new Map<string, ModuleFetchError>();
  /** Digest the downloaded metadata image really has, by module name (default: the assigned one). */
  const actualDigests = new Map<string, string>();
  const c = createModuleSet({
    sys,
    log,
    phases,
    modulesDir: "/persist/powernode/modules",
    mountDir: "/run/powernode/mnt",
    sysroot: "/sysroot",
    arch: "amd64",
    debug: opts.debug ?? false,
    fetchModule: async ({ assignment: a }): Promise<ModuleFiles> => {
      const e = fetchErrors.get(a.name);
      if (e) throw e;
      const dir = `/persist/powernode/modules/${a.name}/${a.version}`;
      sys.digests.set(`${dir}/metadata.cfs`, actualDigests.get(a.name) ?? a.metadataDigest);
      return {
        dir,
        manifest: manifestFor(a, opts.services?.[a.name] ?? []),
        metadata: `${dir}/metadata.cfs`,
        blob: `${dir}/blob.erofs`,
        verity: `${dir}/blob.verity`,
      };
    },
  });
  return { sys, log, phases, c, fetchErrors, actualDigests };
}

test("adding a module: verify through the fd, loop, dm-verity, erofs mounts, one overlay, binds, services", async () => {
  const { sys, c, phases } = setup({
    services: { web: [{ name: "httpd", exec: ["/bin/busybox", "httpd", "-f"] }] },
  });
  const web = assignment("web", "1.0", "a");
  await c.reconcile(desired(3, [web]));
  const dir = "/persist/powernode/modules/web/1.0";
  const mnt = "/run/powernode/mnt/web-aaaaaaaaaaaaaaaa-bbbbbbbbbbbbbbbb";
  expect(sys.calls).toEqual([
    `open ${dir}/metadata.cfs`,
    `fs-verity ${dir}/metadata.cfs`,
    `loop /dev/loop0 <- ${dir}/metadata.cfs (web/metadata.cfs)`,
    `mount erofs /dev/loop0 ${mnt}/meta ro`,
    `open ${dir}/blob.erofs`,
    `open ${dir}/blob.verity`,
    `loop /dev/loop1 <- ${dir}/blob.erofs (web/blob.erofs)`,
    `loop /dev/loop2 <- ${dir}/blob.verity (web/blob.verity)`,
    `dm-create pn-web verity 1 /dev/loop1 /dev/loop2 4096 4096 3 1 sha256 ${hex("b")} ab -> /dev/dm-0`,
    `mount erofs /dev/dm-0 ${mnt}/blob ro`,
    "mount tmpfs tmpfs /run/powernode/mnt/gen-1 mode=0755",
    `mount overlay overlay /sysroot lowerdir=${mnt}/meta::${mnt}/blob,upperdir=/run/powernode/mnt/gen-1/upper,workdir=/run/powernode/mnt/gen-1/work,metacopy=on,redirect_dir=on`,
    "bind /proc /sysroot/proc",
    "bind /sys /sysroot/sys",
    "bind /dev /sysroot/dev",
    "spawn /sysroot /bin/busybox httpd -f",
    // downloads of modules not mounted are removed, the mounted ones kept
    `prune /persist/powernode/modules keep ${dir}`,
  ]);
  expect(c.appliedVersion()).toBe(3n);
  expect(c.root()).toBe("/sysroot");
  expect(c.observe()).toEqual([
    {
      name: "web",
      version: "1.0",
      metadataDigest: hex("a"),
      verityRootHash: hex("b"),
      state: "mounted",
      message: "",
    },
  ]);
  expect(phases.all().map((p) => p.kind)).toContain("system.module_set.applied");
  // Level-triggered: the same set again changes nothing.
  sys.calls.length = 0;
  await c.reconcile(desired(4, [web]));
  expect(sys.calls).toEqual([]);
  expect(c.appliedVersion()).toBe(4n);
  await c.stop();
});

test("two modules: metadata layers highest priority first, then :: data-only blobs", async () => {
  const { sys, c } = setup();
  await c.reconcile(desired(1, [assignment("base", "1", "a", 1), assignment("app", "2", "c", 50)]));
  const overlay = sys.calls.find((l) => l.startsWith("mount overlay")) ?? "";
  const app = "/run/powernode/mnt/app-cccccccccccccccc-dddddddddddddddd";
  const base = "/run/powernode/mnt/base-aaaaaaaaaaaaaaaa-bbbbbbbbbbbbbbbb";
  expect(overlay).toContain(`lowerdir=${app}/meta:${base}/meta::${app}/blob::${base}/blob,`);
  await c.stop();
});

test("a module's env goes to its services over the manifest's; changing only the env restarts them", async () => {
  const { sys, c } = setup({
    services: { web: [{ name: "httpd", exec: ["/bin/httpd"], env: { MODE: "manifest", KEEP: "1" } }] },
  });
  const web = (env: Record<string, string>) => {
    const a = assignment("web", "1.0", "a");
    a.env = env;
    return a;
  };
  await c.reconcile(desired(1, [web({ MODE: "given" })]));
  expect(sys.services[0]?.env).toMatchObject({ MODE: "given", KEEP: "1", PATH: expect.any(String) });
  await c.reconcile(desired(2, [web({ MODE: "given" })]));
  expect(sys.services).toHaveLength(1);
  await c.reconcile(desired(3, [web({ MODE: "changed" })]));
  expect(await sys.services[0]?.proc.exited).toBe(143);
  expect(sys.services).toHaveLength(2);
  expect(sys.services[1]?.env).toMatchObject({ MODE: "changed", KEEP: "1" });
  expect(c.appliedVersion()).toBe(3n);
  await c.stop();
});

test("the same bytes under a new version: nothing remounted or restarted, observed as the new version", async () => {
  const { sys, c } = setup({ services: { web: [{ name: "httpd", exec: ["/bin/httpd"] }] } });
  await c.reconcile(desired(1, [assignment("web", "1.0", "a")]));
  const mounts = sys.calls.length;
  await c.reconcile(desired(2, [assignment("web", "1.0.retag", "a")]));
  expect(sys.services).toHaveLength(1);
  expect(sys.calls.slice(mounts).filter((x) => /^(mount|loop|dm-|umount|bind|spawn)/.test(x))).toEqual([]);
  expect(c.observe().map((o) => [o.name, o.version, o.state])).toEqual([["web", "1.0.retag", "mounted"]]);
  expect(c.appliedVersion()).toBe(2n);
  await c.stop();
});

test("removing every module: services stopped, binds, root, upper and module mounts gone, dm removed", async () => {
  const { sys, c } = setup({ services: { web: [{ name: "httpd", exec: ["/bin/httpd"] }] } });
  await c.reconcile(desired(1, [assignment("web", "1.0", "a")]));
  sys.calls.length = 0;
  await c.reconcile(desired(2, []));
  const mnt = "/run/powernode/mnt/web-aaaaaaaaaaaaaaaa-bbbbbbbbbbbbbbbb";
  expect(sys.calls).toEqual([
    "umount -l /sysroot/dev",
    "umount -l /sysroot/sys",
    "umount -l /sysroot/proc",
    "umount -l /sysroot",
    "umount -l /run/powernode/mnt/gen-1",
    `umount -l ${mnt}/blob`,
    `umount -l ${mnt}/meta`,
    "dm-remove pn-web",
    "prune /persist/powernode/modules keep ",
  ]);
  expect(sys.mounted.size).toBe(0);
  expect(await sys.services[0]?.proc.exited).toBe(143);
  expect(c.observe()).toEqual([]);
  expect(c.root()).toBeUndefined();
  expect(c.appliedVersion()).toBe(2n);
});

test("metadata digest mismatch: refused before any mount, module_verify_failed event, old set kept, not retried", async () => {
  const { sys, c, phases, actualDigests } = setup({
    services: { web: [{ name: "httpd", exec: ["/bin/httpd"] }] },
  });
  await c.reconcile(desired(1, [assignment("web", "1.0", "a")]));
  sys.calls.length = 0;
  actualDigests.set("web", hex("9"));
  const v2 = assignment("web", "2.0", "c");
  await c.reconcile(desired(2, [v2]));
  expect(sys.calls).toEqual([
    "open /persist/powernode/modules/web/2.0/metadata.cfs",
    "fs-verity /persist/powernode/modules/web/2.0/metadata.cfs",
  ]);
  const ev = phases.all().find((p) => p.kind === "system.module_verify_failed");
  expect(ev?.payload).toEqual({ module: "web", version: "2.0", expected: hex("c"), actual: hex("9") });
  expect(c.root()).toBe("/sysroot");
  expect(c.appliedVersion()).toBe(1n);
  expect(sys.services[0]?.proc.pid).toBeDefined();
  expect(c.observe()).toEqual([
    {
      name: "web",
      version: "1.0",
      metadataDigest: hex("a"),
      verityRootHash: hex("b"),
      state: "mounted",
      message: "",
    },
    {
      name: "web",
      version: "2.0",
      metadataDigest: hex("9"),
      verityRootHash: "",
      state: "failed",
      message: `metadata digest mismatch: expected ${hex("c")}, got ${hex("9")}`,
    },
  ]);
  // The same refused set is not tried again (no event storm); a changed assignment is.
  sys.calls.length = 0;
  await c.reconcile(desired(3, [v2]));
  expect(sys.calls).toEqual([]);
  expect(phases.all().filter((p) => p.kind === "system.module_verify_failed")).toHaveLength(1);
  await c.stop();
});

test("a failed mount rolls back this attempt only: previous root, mounts and services stay", async () => {
  const { sys, c, phases } = setup({ services: { web: [{ name: "httpd", exec: ["/bin/httpd"] }] } });
  await c.reconcile(desired(1, [assignment("web", "1.0", "a")]));
  sys.calls.length = 0;
  sys.failMountOn = /db-.*\/blob$/;
  await c.reconcile(desired(2, [assignment("web", "1.0", "a"), assignment("db", "5", "c", 5)]));
  const db = "/run/powernode/mnt/db-cccccccccccccccc-dddddddddddddddd";
  // The module's own undo ran (dm removed, metadata unmounted); nothing of the old generation was touched.
  expect(sys.calls.slice(-3)).toEqual([
    `mount erofs /dev/dm-1 ${db}/blob ro`,
    "dm-remove pn-db",
    `umount -l ${db}/meta`,
  ]);
  expect(sys.calls.some((l) => l.startsWith("mount overlay"))).toBe(false);
  expect(sys.calls.some((l) => l.startsWith("umount -l /sysroot"))).toBe(false);
  expect(sys.mounted.has("/sysroot")).toBe(true);
  expect(sys.mounted.has(`${db}/meta`)).toBe(false);
  expect(sys.dmDevices.has("pn-db")).toBe(false);
  expect(c.appliedVersion()).toBe(1n);
  expect(sys.services).toHaveLength(1);
  const obs = c.observe();
  expect(obs[0]).toMatchObject({ name: "web", state: "mounted" });
  expect(obs[1]).toMatchObject({ name: "db", state: "failed" });
  expect(obs[1]?.message).toContain(`mount erofs on ${db}/blob: EINVAL`);
  expect(phases.all().find((p) => p.kind === "system.module_set.rolled_back")).toBeDefined();
  await c.stop();
});

test("a failed overlay rolls back: new module mounts undone, no root switch", async () => {
  const { sys, c } = setup();
  sys.failMountOn = /^\/sysroot$/;
  await c.reconcile(desired(1, [assignment("web", "1.0", "a")]));
  expect(c.root()).toBeUndefined();
  expect(sys.mounted.size).toBe(0);
  expect(sys.dmDevices.size).toBe(0);
  expect(c.observe()[0]).toMatchObject({ name: "web", state: "failed" });
  expect(c.observe()[0]?.message).toContain("composing the root at /sysroot");
});

test("upgrade without reboot: new root at /sysroot.2, services moved, old root lazily unmounted", async () => {
  const { sys, c } = setup({ services: { web: [{ name: "httpd", exec: ["/bin/httpd"] }] } });
  await c.reconcile(desired(1, [assignment("web", "1.0", "a")]));
  await c.reconcile(desired(2, [assignment("web", "2.0", "c")]));
  expect(c.root()).toBe("/sysroot.2");
  expect(sys.calls).toContain(
    `dm-create pn-web.2 verity 1 /dev/loop4 /dev/loop5 4096 4096 3 1 sha256 ${hex("d")} ab -> /dev/dm-1`,
  );
  const i = (l: string) => sys.calls.indexOf(l);
  expect(i("umount -l /sysroot")).toBeGreaterThan(i("bind /dev /sysroot.2/dev"));
  expect(i("spawn /sysroot.2 /bin/httpd")).toBeGreaterThan(i("umount -l /sysroot"));
  expect(await sys.services[0]?.proc.exited).toBe(143);
  expect(sys.dmDevices.has("pn-web")).toBe(false);
  expect(c.observe()).toEqual([
    {
      name: "web",
      version: "2.0",
      metadataDigest: hex("c"),
      verityRootHash: hex("d"),
      state: "mounted",
      message: "",
    },
  ]);
  await c.stop();
});

test("fetch failures: transient ones leave the set pending (retried), invalid ones fail it", async () => {
  const { c, fetchErrors, sys, log } = setup();
  fetchErrors.set("web", new ModuleFetchError("transient", "fetching manifest: ECONNREFUSED"));
  await c.reconcile(desired(1, [assignment("web", "1.0", "a")]));
  expect(c.observe()[0]).toMatchObject({ state: "pending", message: "fetching manifest: ECONNREFUSED" });
  await c.reconcile(desired(1, [assignment("web", "1.0", "a")]));
  expect(log.lines.filter((l) => l.includes("ECONNREFUSED"))).toEqual([
    "powernode-agent: warn: module web 1.0: fetching manifest: ECONNREFUSED (will retry)",
  ]);
  fetchErrors.clear();
  await c.reconcile(desired(1, [assignment("web", "1.0", "a")]));
  expect(c.observe()[0]).toMatchObject({ state: "mounted" });
  fetchErrors.set("db", new ModuleFetchError("invalid", "module manifest does not match the assignment: x"));
  sys.calls.length = 0;
  await c.reconcile(desired(2, [assignment("web", "1.0", "a"), assignment("db", "1", "c")]));
  expect(c.observe()[1]).toMatchObject({ name: "db", state: "failed" });
  expect(sys.calls).toEqual([]);
  await c.stop();
});

test("fetch failures: missing everywhere fails once with an event and waits for a new assignment; denied is retried", async () => {
  const { c, fetchErrors, phases } = setup();
  const missing = new ModuleFetchError("missing", "no location served it: origin http://r: HTTP 404");
  fetchErrors.set("web", missing);
  const web = assignment("web", "1.0", "a");
  await c.reconcile(desired(1, [web]));
  expect(c.observe()[0]).toMatchObject({ state: "failed", message: missing.message });
  const events = () => phases.all().filter((p) => p.kind === "system.module.artifact_missing");
  expect(events().map((e) => e.payload)).toEqual([{ module: "web", version: "1.0", error: missing.message }]);
  // The same set again: not fetched again, no second event.
  fetchErrors.set("web", new ModuleFetchError("missing", "counted"));
  await c.reconcile(desired(1, [web]));
  expect(events()).toHaveLength(1);
  expect(c.observe()[0]?.message).toBe(missing.message);
  // A refused credential: failed, and tried again on the next reconcile (the operator may fix it).
  fetchErrors.set("web", new ModuleFetchError("denied", "origin http://r: HTTP 401"));
  await c.reconcile(desired(2, [assignment("web", "1.1", "b")]));
  expect(c.observe()[0]).toMatchObject({ state: "failed", message: "origin http://r: HTTP 401" });
  fetchErrors.clear();
  await c.reconcile(desired(2, [assignment("web", "1.1", "b")]));
  expect(c.observe()[0]).toMatchObject({ state: "mounted", version: "1.1" });
  await c.stop();
});

test("observations: kernel root hash read back, corruption (C) fails the module, a changed metadata image is re-hashed", async () => {
  const { sys, c } = setup();
  await c.reconcile(desired(1, [assignment("web", "1.0", "a")]));
  sys.calls.length = 0;
  c.observe();
  expect(sys.calls).toEqual([]); // cached by inode + mtime
  const path = "/persist/powernode/modules/web/1.0/metadata.cfs";
  sys.digests.set(path, hex("7"));
  sys.touch(path);
  expect(c.observe()[0]).toMatchObject({
    state: "mounted",
    metadataDigest: hex("7"),
    message: `metadata image changed since it was mounted: expected ${hex("a")}, got ${hex("7")}`,
  });
  expect(sys.calls).toEqual([`fs-verity ${path}`]);
  sys.dmHealth.set("pn-web", "C");
  expect(c.observe()[0]).toMatchObject({
    state: "failed",
    message: "dm-verity detected corruption on pn-web",
  });
  await c.stop();
});

test("debug hooks: only with powernode.debug=1; tamper once per version; read reports ok or the errno", async () => {
  const extra: DebugSpecInit = {
    tamper: [{ module: "web", layer: DebugLayer.BLOB, offset: 8192n }],
    read: [{ path: "/etc/motd" }],
  };
  const off = setup();
  await off.c.reconcile(desired(1, [assignment("web", "1.0", "a")], extra));
  expect(off.sys.calls.some((l) => l.startsWith("flip") || l.startsWith("read"))).toBe(false);
  await off.c.stop();

  const { sys, c, phases } = setup({ debug: true });
  sys.readAnswers.set("/sysroot/etc/motd", { ok: false, errno: "EIO" });
  await c.reconcile(desired(1, [assignment("web", "1.0", "a")], extra));
  await c.reconcile(desired(1, [assignment("web", "1.0", "a")], extra));
  expect(sys.calls.filter((l) => l.startsWith("flip") || l.startsWith("read"))).toEqual([
    "flip /persist/powernode/modules/web/1.0/blob.erofs @8192",
    "read /sysroot/etc/motd",
  ]);
  expect(phases.all().find((p) => p.kind === "system.debug.read")?.payload).toEqual({
    path: "/etc/motd",
    result: "error",
    errno: "EIO",
  });
  expect(c.observe()[0]).toMatchObject({ state: "failed", message: "reading /etc/motd returned EIO" });
  await c.reconcile(desired(2, [assignment("web", "1.0", "a")], extra));
  expect(sys.calls.filter((l) => l.startsWith("flip"))).toHaveLength(2);
  await c.stop();
});
