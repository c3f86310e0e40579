import { expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseSha256sum } from "./debug-probes.ts";
import {
  createStorageOs,
  moduleProgramArgv,
  mountinfoDevice,
  nfsMountArgv,
  parseNfsMounts,
  parseNfsVolumes,
} from "./nfs.ts";

test("a module's program runs from the node's root with the composed root's loader and libraries", () => {
  expect(moduleProgramArgv("/sysroot", ["/usr/sbin/exportfs", "-r"], "x64")).toEqual([
    "/sysroot/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
    "--library-path",
    "/sysroot/usr/lib/x86_64-linux-gnu",
    "/sysroot/usr/sbin/exportfs",
    "-r",
  ]);
  expect(moduleProgramArgv("/sysroot.2", ["/usr/sbin/rpc.nfsd", "0"], "arm64")).toEqual([
    "/sysroot.2/usr/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1",
    "--library-path",
    "/sysroot.2/usr/lib/aarch64-linux-gnu",
    "/sysroot.2/usr/sbin/rpc.nfsd",
    "0",
  ]);
  expect(() => moduleProgramArgv("/sysroot", ["exportfs"], "x64")).toThrow(
    'module program "exportfs": need an absolute path',
  );
});

test("/proc/self/mounts: only NFS filesystems, with source and target", () => {
  const text = [
    "rootfs / rootfs rw 0 0",
    "overlay /sysroot overlay ro,relatime,lowerdir=/a::/b 0 0",
    "[fd00::dead:beef:0:1]:/srv/x /sysroot/mnt/x nfs4 rw,relatime,vers=4.2,hard,proto=tcp6 0 0",
    "10.0.0.5:/srv/nas /sysroot/var/lib/powernode/storage/gw nfs4 rw,vers=4.2 0 0",
    "nfsd /proc/fs/nfsd nfsd rw,relatime 0 0",
    "",
  ].join("\n");
  expect(parseNfsMounts(text)).toEqual([
    { source: "[fd00::dead:beef:0:1]:/srv/x", target: "/sysroot/mnt/x", fstype: "nfs4" },
    { source: "10.0.0.5:/srv/nas", target: "/sysroot/var/lib/powernode/storage/gw", fstype: "nfs4" },
  ]);
});

test("busybox mount argv and sha256sum output", () => {
  expect(nfsMountArgv({ fstype: "nfs4", source: "10.0.0.5:/x", options: "vers=4.2,addr=10.0.0.5" }, "/m")).toEqual([
    "mount", "-t", "nfs4", "-o", "vers=4.2,addr=10.0.0.5", "10.0.0.5:/x", "/m",
  ]); // biome-ignore format: flag/value pairs
  const hex = "a".repeat(64);
  expect(parseSha256sum(`${hex}  /sysroot/mnt/x/f1\n`)).toBe(hex);
  expect(() => parseSha256sum("sha256sum: can't open")).toThrow("sha256sum: unexpected output");
});

const MOUNTINFO = [
  "22 1 0:21 / /sysroot rw,relatime - overlay overlay rw",
  "61 22 0:53 / /sysroot/mnt/data rw,relatime - nfs4 [fd00::1]:/srv/data rw,vers=4.2",
  "62 22 0:54 / /sysroot/mnt/other rw,relatime - nfs4 [fd00::1]:/srv/other rw,vers=4.2",
  "",
].join("\n");
const VOLUMES = [
  "NV SERVER   PORT DEV          FSID                              FSC",
  "v4 fd000000000000000000000000000001  801 0:53         0:0                               no",
  "v4 fd000000000000000000000000000001  801 0:54         b7e6c2a1f3d4c5e:9a8b7c6d5e4f3a2b  no",
  "",
].join("\n");

test("procfs: the device mounted at a path, and each NFS superblock's fsid", () => {
  expect(mountinfoDevice(MOUNTINFO, "/sysroot/mnt/data")).toBe("0:53");
  expect(mountinfoDevice(MOUNTINFO, "/sysroot/mnt")).toBeUndefined();
  expect(parseNfsVolumes(VOLUMES)).toEqual(
    new Map([
      ["0:53", "0:0"],
      ["0:54", "b7e6c2a1f3d4c5e:9a8b7c6d5e4f3a2b"],
    ]),
  );
});

test("nfsFsid and answersUpcalls read a proc tree", () => {
  const proc = mkdtempSync(join(tmpdir(), "proc-"));
  mkdirSync(join(proc, "self"), { recursive: true });
  mkdirSync(join(proc, "fs/nfsfs"), { recursive: true });
  writeFileSync(join(proc, "self/mountinfo"), MOUNTINFO);
  writeFileSync(join(proc, "fs/nfsfs/volumes"), VOLUMES);
  mkdirSync(join(proc, "7/fd"), { recursive: true });
  symlinkSync("/proc/7/net/rpc/auth.unix.ip/channel", join(proc, "7/fd/3"));
  mkdirSync(join(proc, "8/fd"), { recursive: true });
  symlinkSync("/proc/8/net/rpc/auth.unix.ip/channel", join(proc, "8/fd/3"));
  symlinkSync("/proc/8/net/rpc/nfsd.export/channel", join(proc, "8/fd/4"));
  const os = createStorageOs({ sys: {} as never, exec: {} as never, persistent: false, procDir: proc });
  expect(os.nfsFsid("/sysroot/mnt/data")).toBe("0:0");
  expect(os.nfsFsid("/sysroot/mnt/other")).toBe("b7e6c2a1f3d4c5e:9a8b7c6d5e4f3a2b");
  expect(os.nfsFsid("/sysroot")).toBeUndefined();
  expect(os.answersUpcalls(7)).toBe(false);
  expect(os.answersUpcalls(8)).toBe(true);
  expect(os.answersUpcalls(9)).toBe(false);
  rmSync(proc, { recursive: true, force: true });
});
