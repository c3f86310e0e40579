// The image tree from stand-in package roots: where the agent, busybox, wg and glibc land, and that
// Debian's /usr/bin/wg resolves through the /usr/bin -> ../bin link.
import { afterAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, posix } from "node:path";
import { LIBC_LAYOUT } from "../versions.ts";
import type { CpioEntry } from "./cpio.ts";
import { AGENT_PATH, buildRootfsEntries, WG_PATH } from "./rootfs.ts";

const root = mkdtempSync(join(tmpdir(), "rootfs-test-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function put(path: string, data = path): string {
  const p = join(root, path);
  mkdirSync(join(p, ".."), { recursive: true });
  writeFileSync(p, data);
  return p;
}

/** Follows symlinks of the entry list the way the kernel would after unpacking. */
function resolvePath(entries: CpioEntry[], path: string): CpioEntry | undefined {
  const byPath = new Map(entries.map((e) => [e.path, e]));
  const parts = path.split("/");
  let cur = "";
  for (let i = 0; i < parts.length; i++) {
    cur = cur ? `${cur}/${parts[i]}` : (parts[i] as string);
    const e = byPath.get(cur);
    if (e?.kind === "symlink") {
      const target = posix.normalize(posix.join(posix.dirname(cur), e.target));
      return resolvePath(entries, [target, ...parts.slice(i + 1)].join("/"));
    }
  }
  return byPath.get(cur);
}

test("amd64 tree: agent, busybox applets, wg at /usr/bin/wg 0755, glibc and its loader link", () => {
  const { triplet } = LIBC_LAYOUT.amd64;
  const release = "6.12.0-test";
  put("agent", "agent-bytes");
  put("busybox/bin/busybox");
  put("wg/usr/bin/wg", "wg-bytes");
  for (const f of [
    "ld-linux-x86-64.so.2",
    "libc.so.6",
    "libm.so.6",
    "libpthread.so.0",
    "libdl.so.2",
    "librt.so.1",
    "libresolv.so.2",
    "libnss_dns.so.2",
    "libnss_files.so.2",
  ])
    put(`libc/lib/${triplet}/${f}`);
  put(`libgcc/lib/${triplet}/libgcc_s.so.1`);
  put(`modules/lib/modules/${release}/powernode.load`, "# none\n");
  const entries = buildRootfsEntries({
    arch: "amd64",
    release,
    agent: join(root, "agent"),
    busyboxRoot: join(root, "busybox"),
    wireguardToolsRoot: join(root, "wg"),
    libcRoot: join(root, "libc"),
    libgccRoot: join(root, "libgcc"),
    modulesRoot: join(root, "modules"),
  });
  const wg = entries.find((e) => e.path === WG_PATH);
  expect(wg).toEqual({
    kind: "file",
    path: "bin/wg",
    mode: 0o755,
    data: new TextEncoder().encode("wg-bytes"),
  });
  expect(resolvePath(entries, "usr/bin/wg")).toBe(wg);
  expect(resolvePath(entries, "lib64/ld-linux-x86-64.so.2")?.path).toBe(
    `lib/${triplet}/ld-linux-x86-64.so.2`,
  );
  expect(resolvePath(entries, "bin/ping")?.path).toBe("bin/busybox");
  expect(resolvePath(entries, "sbin/ip")?.path).toBe("bin/busybox");
  expect(entries.find((e) => e.path === AGENT_PATH)?.kind).toBe("file");
  // nothing else of wireguard-tools (wg-quick needs bash) and no path twice
  expect(entries.filter((e) => e.path.includes("wg")).map((e) => e.path)).toEqual(["bin/wg"]);
  expect(new Set(entries.map((e) => e.path)).size).toBe(entries.length);
});
