/**
 * The `k3s` module: the upstream k3s binary (no Debian package ships it, so it is given by path in
 * POWERNODE_K3S_BINARY) at /usr/local/bin/k3s with its kubectl/crictl/ctr links and the directories k3s
 * writes, as a module like any other (composefs + dm-verity). `pnctl module build k3s` builds it.
 */
import {
  chmodSync,
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  openSync,
  readSync,
  rmSync,
  statSync,
} from "node:fs";
import { join, resolve } from "node:path";
import type { DebArch } from "@powernode/debian";
import { createExec, type Exec } from "@powernode/exec";
import { type BuiltModule, buildModule } from "./build-module.ts";

export const K3S_MODULE_NAME = "k3s";
/** Above the runtimes' dependencies, below nothing that overrides k3s' files. */
export const K3S_MODULE_PRIORITY = 50;
export const K3S_BINARY_PATH = "/usr/local/bin/k3s";
export const K3S_BINARY_ENV = "POWERNODE_K3S_BINARY";
const K3S_DIRS = ["/etc/rancher/k3s", "/var/lib/rancher/k3s", "/var/lib/kubelet", "/var/log/pods"];
const K3S_LINKS = {
  "/usr/local/bin/kubectl": "k3s",
  "/usr/local/bin/crictl": "k3s",
  "/usr/local/bin/ctr": "k3s",
};

/** The arch of an ELF executable from its header (e_machine), or why it is not one we run. */
export function elfArch(header: Uint8Array): { arch: DebArch } | { error: string } {
  if (
    header.length < 20 ||
    header[0] !== 0x7f ||
    header[1] !== 0x45 ||
    header[2] !== 0x4c ||
    header[3] !== 0x46
  )
    return { error: "not an ELF executable" };
  if (header[4] !== 2) return { error: "not a 64-bit ELF executable" };
  const machine =
    header[5] === 1
      ? (header[18] ?? 0) | ((header[19] ?? 0) << 8)
      : ((header[18] ?? 0) << 8) | (header[19] ?? 0);
  if (machine === 0x3e) return { arch: "amd64" };
  if (machine === 0xb7) return { arch: "arm64" };
  return { error: `ELF machine 0x${machine.toString(16)} is neither amd64 nor arm64` };
}

/** The version from `k3s --version` output (`k3s version v1.30.4+k3s1 (98262b5d)`). */
export function parseK3sVersion(stdout: string): string | undefined {
  return /^k3s version (v[0-9][A-Za-z0-9.+-]*)/m.exec(stdout)?.[1];
}

/** The first 64 bytes of a file (an ELF header). */
export function readElfHeader(path: string): Uint8Array {
  const fd = openSync(path, "r");
  try {
    const b = new Uint8Array(64);
    const n = readSync(fd, b, 0, 64, 0);
    return b.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

export interface K3sModuleInput {
  /** The binary (POWERNODE_K3S_BINARY); undefined: an error saying to set it. */
  binary: string | undefined;
  arch: DebArch;
  outDir: string;
  /** Default: what `<binary> --version` prints (needs the build machine's arch). */
  version?: string;
  exec?: Exec;
}

/** Checks the binary (ELF, arch, executable), finds its version and builds the module into `outDir`. */
export async function buildK3sModule(input: K3sModuleInput): Promise<BuiltModule> {
  if (!input.binary)
    throw new Error(
      `${K3S_BINARY_ENV} is unset: set it to a k3s binary for ${input.arch} (https://github.com/k3s-io/k3s/releases: k3s for amd64, k3s-arm64 for arm64)`,
    );
  const binary = resolve(input.binary);
  if (!existsSync(binary) || !statSync(binary).isFile())
    throw new Error(`${K3S_BINARY_ENV}: ${binary} is not a file`);
  const elf = elfArch(readElfHeader(binary));
  if ("error" in elf) throw new Error(`${K3S_BINARY_ENV}: ${binary}: ${elf.error}`);
  if (elf.arch !== input.arch)
    throw new Error(`${K3S_BINARY_ENV}: ${binary} is an ${elf.arch} binary, the module is for ${input.arch}`);
  let version = input.version;
  if (!version) {
    const hostArch = process.arch === "arm64" ? "arm64" : "amd64";
    if (hostArch !== input.arch)
      throw new Error(
        `module k3s: give --version (an ${input.arch} binary does not run here to say its own)`,
      );
    const r = await (input.exec ?? createExec()).run(binary, ["--version"], { timeoutMs: 30_000 });
    version = parseK3sVersion(r.stdout);
    if (!version)
      throw new Error(`${binary} --version printed no "k3s version v...": ${r.stdout.slice(0, 200)}`);
  }
  // A fixed staging path, so the manifest's source is the same for the same output directory.
  const stage = `${resolve(input.outDir)}.stage`;
  rmSync(stage, { recursive: true, force: true });
  try {
    mkdirSync(join(stage, "usr/local/bin"), { recursive: true });
    copyFileSync(binary, join(stage, K3S_BINARY_PATH));
    chmodSync(join(stage, K3S_BINARY_PATH), 0o755);
    return await buildModule({
      source: { dir: stage },
      name: K3S_MODULE_NAME,
      version,
      arch: input.arch,
      priority: K3S_MODULE_PRIORITY,
      outDir: input.outDir,
      dirs: K3S_DIRS,
      symlinks: K3S_LINKS,
      ...(input.exec ? { exec: input.exec } : {}),
    });
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}
