import { afterEach, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadKmods, parseLoadOrder } from "./kmod.ts";
import { LibcError } from "./libc.ts";
import { earlyMounts, mountAll } from "./mount.ts";
import { ipAddrAddArgs, listNetInterfaces, parseLease, udhcpcArgs } from "./net.ts";
import { listZombies, parseProcStat, readRssBytes, readUptimeSeconds } from "./proc.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function temp(): string {
  const d = mkdtempSync(join(tmpdir(), "pn-sys-"));
  dirs.push(d);
  return d;
}
function put(root: string, path: string, data: string): void {
  mkdirSync(join(root, path, ".."), { recursive: true });
  writeFileSync(join(root, path), data);
}

test("proc stat: comm with spaces and parentheses, state, ppid, start time", () => {
  expect(parseProcStat("42 (my (odd) name) Z 1 42 42 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 250 0 0")).toEqual({
    pid: 42,
    comm: "my (odd) name",
    state: "Z",
    ppid: 1,
    startSeconds: 2.5,
  });
});

test("zombies, uptime and RSS from a proc tree", () => {
  const proc = temp();
  put(proc, "uptime", "123.45 99.00\n");
  put(proc, "1/stat", "1 (init) S 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0");
  put(proc, "7/stat", "7 (sleep) Z 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 500 0 0");
  put(proc, "8/stat", "8 (sh) Z 5 8 8 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 500 0 0");
  put(proc, "self/status", "Name:\tagent\nVmRSS:\t   51200 kB\n");
  expect(readUptimeSeconds(proc)).toBe(123.45);
  expect(
    listZombies(proc)
      .map((z) => z.pid)
      .sort(),
  ).toEqual([7, 8]);
  expect(listZombies(proc, 1).map((z) => z.pid)).toEqual([7]);
  expect(readRssBytes("self", proc)).toBe(51200 * 1024);
});

test("early mounts: already-mounted targets are skipped, EBUSY counts as mounted, optional failures are kept", () => {
  const root = temp();
  put(root, "proc/self/mounts", "proc /proc proc rw 0 0\n");
  const done: string[] = [];
  const out = mountAll(
    earlyMounts(),
    {
      mount(spec) {
        if (spec.target === "/dev") throw new LibcError("mount devtmpfs on /dev", 16);
        if (spec.fstype === "cgroup2") throw new LibcError("mount cgroup2", 19);
        done.push(spec.target);
      },
    },
    root,
  );
  expect(out.map((o) => `${o.target}:${o.result}`)).toEqual([
    "/proc:already",
    "/sys:mounted",
    "/dev:already",
    "/dev/pts:mounted",
    "/dev/shm:mounted",
    "/run:mounted",
    "/tmp:mounted",
    "/sys/fs/cgroup:failed",
  ]);
  expect(out.at(-1)?.error).toBe("mount cgroup2: ENODEV (errno 19)");
  expect(() =>
    mountAll(
      [{ source: "x", target: "/x", fstype: "x", flags: 0 }],
      {
        mount() {
          throw new Error("nope");
        },
      },
      root,
    ),
  ).toThrow("mounting x on /x: nope");
});

test("module load order: comments skipped, order kept, EEXIST is 'already', other errors go on", () => {
  expect(parseLoadOrder("# header\n\nkernel/a.ko\n  kernel/b.ko  \n")).toEqual([
    "kernel/a.ko",
    "kernel/b.ko",
  ]);
  const dir = temp();
  put(dir, "powernode.load", "kernel/a.ko\nkernel/b.ko.zst\nkernel/c.ko\n");
  const seen: string[] = [];
  const out = loadKmods(dir, (p) => {
    seen.push(p.slice(dir.length));
    if (p.endsWith("b.ko.zst")) throw new LibcError("finit_module", 17);
    if (p.endsWith("c.ko")) throw new LibcError("finit_module", 2);
  });
  expect(seen).toEqual(["/kernel/a.ko", "/kernel/b.ko.zst", "/kernel/c.ko"]);
  expect(out).toEqual([
    { module: "a", result: "loaded" },
    { module: "b", result: "already" },
    { module: "c", result: "failed", error: "finit_module: ENOENT (errno 2)" },
  ]);
});

test("network: lease parsing, argv builders, interface choice", () => {
  expect(
    parseLease(
      "udhcpc: noise\npowernode-dhcp interface=eth0\npowernode-dhcp ip=10.0.2.15\npowernode-dhcp mask=24\npowernode-dhcp router=10.0.2.2 10.0.2.9\npowernode-dhcp dns=10.0.2.3 1.1.1.1\n",
    ),
  ).toEqual({
    interface: "eth0",
    address: "10.0.2.15",
    prefix: 24,
    router: "10.0.2.2",
    dns: ["10.0.2.3", "1.1.1.1"],
  });
  expect(parseLease("powernode-dhcp ip=\n")).toBeUndefined();
  expect(udhcpcArgs("eth0", "/s")).toEqual([
    "-i",
    "eth0",
    "-f",
    "-q",
    "-n",
    "-t",
    "5",
    "-T",
    "3",
    "-s",
    "/s",
  ]);
  expect(ipAddrAddArgs("eth0", "10.0.2.15", 24)).toEqual(["addr", "replace", "10.0.2.15/24", "dev", "eth0"]);
  const sys = temp();
  for (const n of ["lo", "wg0", "enp0s3", "eth1"]) mkdirSync(join(sys, "class/net", n), { recursive: true });
  expect(listNetInterfaces(sys)).toEqual(["enp0s3", "eth1", "wg0"]);
});
