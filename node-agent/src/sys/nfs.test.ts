import { expect, test } from "bun:test";
import { parseSha256sum } from "./debug-probes.ts";
import { moduleProgramArgv, nfsMountArgv, parseNfsMounts } from "./nfs.ts";

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
