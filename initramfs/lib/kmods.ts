/**
 * Stages the kernel modules the node needs: resolves the root set through depmod's indexes of the
 * unpacked kernel package, decompresses the chosen `.ko.xz` files to plain `.ko` (so busybox
 * insmod and a bare `init_module(2)` both work), regenerates the indexes for the subset with
 * depmod, and writes `powernode.load`, the dependency-first load order.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Exec } from "./exec.ts";
import {
  type KmodIndex,
  type LoadPlan,
  parseBuiltinAliases,
  parseModulesAlias,
  parseModulesBuiltin,
  parseModulesDep,
  parseModulesSoftdep,
  resolveLoadOrder,
} from "./kmod-index.ts";

/** Modules the node needs; their dependencies are resolved, never listed here. */
export const KMOD_ROOTS = [
  "virtio_pci",
  "virtio_net",
  "virtio_blk",
  "virtio_console",
  "virtio_rng",
  "qemu_fw_cfg",
  "loop",
  "erofs",
  "overlay",
  "dm_verity",
  "wireguard",
  "ext4",
  // identity.cfg on a disk image's FAT boot partition: the kernel's defaults are codepage 437 and
  // iocharset ascii (a vfat mount without nls_ascii fails with EINVAL), UTF-8 long names
  "vfat",
  "nls_cp437",
  "nls_ascii",
  "nls_utf8",
  // storage: the NFS v4 server and client (the nfs-server module's user space drives nfsd), and the
  // ciphers of ext4 fscrypt's default v2 policy (AES-256-XTS contents, AES-256-CTS names): the crypto
  // API would ask modprobe for them, and the node has none
  "nfsd",
  "nfsv4",
  "xts",
  "cts",
  // host bridges (the sdwan controller's `pwnbr-<n>`) and VRFs (`vrf-<handle>`)
  "bridge",
  "vrf",
  // OVS bridges (the openvswitch module's user space drives the kernel datapath) and their VXLAN and
  // Geneve tunnel ports; ovs-vswitchd makes the tunnel devices over rtnetlink, and nodes have no
  // modprobe for the kernel to ask
  "openvswitch",
  "vport_vxlan",
  "vport_geneve",
  // the NFS server's firewall (nft from the nfs-server module): the table, and `reject` (TCP reset)
  "nf_tables",
  "nft_reject_inet",
] as const;

/** Name of the load-order file written beside modules.dep. */
export const LOAD_ORDER_FILE = "powernode.load";

function readIndex(modDir: string): KmodIndex {
  const read = (f: string) => (existsSync(join(modDir, f)) ? readFileSync(join(modDir, f), "utf8") : "");
  return {
    deps: parseModulesDep(read("modules.dep")),
    softdeps: parseModulesSoftdep(read("modules.softdep")),
    aliases: parseModulesAlias(read("modules.alias")),
    builtin: parseModulesBuiltin(read("modules.builtin")),
    builtinAliases: parseBuiltinAliases(read("modules.builtin.modinfo")),
  };
}

/** Text of powernode.load: a comment header, then one path per line relative to /lib/modules/<release>. */
export function formatLoadOrder(release: string, paths: readonly string[]): string {
  return [
    `# powernode load order for ${release}: insmod each line in order (dependencies first).`,
    "# Paths are relative to this directory; files are uncompressed .ko.",
    ...paths,
    "",
  ].join("\n");
}

export interface StagedKmods {
  /** Staging root; contains lib/modules/<release>/... */
  root: string;
  release: string;
  plan: LoadPlan;
  /** Load order with plain .ko paths (what powernode.load lists). */
  order: string[];
}

/**
 * Builds `<stageRoot>/lib/modules/<release>` from the unpacked kernel package at kernelRoot.
 * Runs depmod on the package tree first if the package shipped no indexes (Debian's don't).
 */
export async function stageKmods(
  exec: Exec,
  kernelRoot: string,
  release: string,
  stageRoot: string,
  roots: readonly string[] = KMOD_ROOTS,
): Promise<StagedKmods> {
  const systemMap = join(kernelRoot, "boot", `System.map-${release}`);
  const srcDir = join(kernelRoot, "lib", "modules", release);
  if (!existsSync(join(srcDir, "modules.dep"))) {
    await exec.run("depmod", ["-b", kernelRoot, "-F", systemMap, release], { timeoutMs: 120_000 });
  }
  const plan = resolveLoadOrder(readIndex(srcDir), roots);

  rmSync(stageRoot, { recursive: true, force: true });
  const dstDir = join(stageRoot, "lib", "modules", release);
  mkdirSync(dstDir, { recursive: true });
  const order: string[] = [];
  for (const rel of plan.order) {
    const plain = rel.replace(/\.(xz|zst|gz)$/, "");
    const dst = join(dstDir, plain);
    mkdirSync(dirname(dst), { recursive: true });
    if (rel.endsWith(".xz")) {
      const { stdoutBytes } = await exec.runBinary("xz", ["-dc", join(srcDir, rel)], { timeoutMs: 60_000 });
      writeFileSync(dst, stdoutBytes);
    } else if (rel.endsWith(".ko")) {
      writeFileSync(dst, readFileSync(join(srcDir, rel)));
    } else {
      throw new Error(`module ${rel}: unsupported compression (only .ko and .ko.xz)`);
    }
    order.push(plain);
  }
  for (const f of ["modules.builtin", "modules.builtin.modinfo"]) {
    writeFileSync(join(dstDir, f), readFileSync(join(srcDir, f)));
  }
  // modules.order fixes depmod's output order, so the regenerated indexes are reproducible.
  writeFileSync(join(dstDir, "modules.order"), `${[...order].sort().join("\n")}\n`);
  await exec.run("depmod", ["-b", stageRoot, "-F", systemMap, release], { timeoutMs: 120_000 });
  writeFileSync(join(dstDir, LOAD_ORDER_FILE), formatLoadOrder(release, order));
  return { root: stageRoot, release, plan, order };
}
