/**
 * A temp directory laid out like a node's root for boot tests: /proc (uptime, cmdline, self/stat,
 * osrelease), /sys (fw-cfg identity, net interfaces, block devices), /lib/modules with a load order,
 * and optionally /dev/vda holding a real ext4 filesystem labelled "persist" (made with mkfs.ext4).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createExeca } from "../src/sys/exec.ts";

export const TEST_RELEASE = "6.12.0-test";

export interface TestRootOptions {
  fwCfg?: Record<string, string>;
  cmdline?: string;
  interfaces?: string[];
  loadOrder?: string[];
  /** One /dev/kmsg record, e.g. "6,341,7466486,-;Run /init as init process". */
  kmsgRecord?: string;
  /** Put an ext4 filesystem with this label at /dev/vda. */
  diskLabel?: string;
}

export interface TestRoot {
  root: string;
  [Symbol.asyncDispose](): Promise<void>;
}

function put(root: string, path: string, data: string): void {
  const f = join(root, path);
  mkdirSync(dirname(f), { recursive: true });
  writeFileSync(f, data);
}

/** Builds the tree; dispose removes it. */
export async function createTestRoot(o: TestRootOptions = {}): Promise<TestRoot> {
  const root = mkdtempSync(join(tmpdir(), "pn-agent-root-"));
  put(root, "proc/uptime", "12.34 20.00\n");
  put(root, "proc/cmdline", `${o.cmdline ?? "console=ttyS0"}\n`);
  // starttime (field 22) = 153 ticks = 1.53 s after the kernel started.
  put(
    root,
    "proc/self/stat",
    `1 (init) S 0 1 1 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 153 1000 100 18446744073709551615\n`,
  );
  put(root, "proc/sys/kernel/osrelease", `${TEST_RELEASE}\n`);
  for (const [k, v] of Object.entries(o.fwCfg ?? {}))
    put(root, `sys/firmware/qemu_fw_cfg/by_name/opt/com.powernode/${k}/raw`, v);
  for (const n of ["lo", ...(o.interfaces ?? [])])
    put(root, `sys/class/net/${n}/address`, "52:54:00:12:34:56\n");
  put(
    root,
    `lib/modules/${TEST_RELEASE}/powernode.load`,
    `# test load order\n${(o.loadOrder ?? []).join("\n")}\n`,
  );
  mkdirSync(join(root, "dev"), { recursive: true });
  // A regular file returns its whole content on the first read: one kmsg record.
  if (o.kmsgRecord) put(root, "dev/kmsg", `${o.kmsgRecord}\n`);
  if (o.diskLabel !== undefined) {
    mkdirSync(join(root, "sys/class/block/vda"), { recursive: true });
    const img = join(root, "dev/vda");
    writeFileSync(img, Buffer.alloc(0));
    await createExeca().run("truncate", ["-s", "4M", img]);
    await createExeca().run("mkfs.ext4", ["-q", "-F", "-L", o.diskLabel, img], { timeoutMs: 30_000 });
  }
  return {
    root,
    async [Symbol.asyncDispose]() {
      rmSync(root, { recursive: true, force: true });
    },
  };
}
