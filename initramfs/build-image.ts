/**
 * buildImage(): kernel + initramfs.cpio.zst for one arch, reproducible and reused when nothing
 * changed. Layout: `<outDir>/<arch>/kernel-initrd/{kernel,initramfs.cpio.zst,initramfs.cpio,SHA256SUMS,
 * build-manifest.json}`.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { debFileName, fetchDebs, loadAptIndex, unpackDeb } from "@powernode/debian";
import { cacheDir as userCacheDir } from "@powernode/exec";
import { compileAgent, fetchBunRuntime } from "./lib/agent.ts";
import { writeCpio } from "./lib/cpio.ts";
import { createExec, type Exec } from "./lib/exec.ts";
import { KMOD_ROOTS, stageKmods } from "./lib/kmods.ts";
import { withLock } from "./lib/lock.ts";
import {
  artifactOf,
  type BuildManifest,
  formatSha256Sums,
  hashInputs,
  listFiles,
  sha256Hex,
} from "./lib/manifest.ts";
import { IMAGE_SUITES, pickKernel, pickUserland } from "./lib/pick-packages.ts";
import { AGENT_PATH, buildRootfsEntries } from "./lib/rootfs.ts";
import {
  type Arch,
  BUN_RUNTIME_PACKAGE,
  KERNEL,
  kernelPackage,
  kernelRelease,
  SOURCE_DATE_EPOCH,
  USERLAND_PACKAGES,
  ZSTD_LEVEL,
  zstdArgs,
} from "./versions.ts";

/** Repository root (this file lives in <repo>/initramfs). */
export const REPO_ROOT = resolve(import.meta.dir, "..");

export interface BuildImageOptions {
  arch: Arch;
  /** Rebuild even if the recorded input hash matches. */
  force?: boolean;
  /** A replacement /init (tests, debugging); the agent stays at /bin/powernode-agent. */
  init?: string;
  /** Default `<repo>/initramfs/build`. */
  outDir?: string;
  /**
   * Downloaded .debs (checked against the index sha256 on every use), unpacked packages, the parsed apt
   * index and the bun runtime; default the per-user cache (`cacheDir()` of @powernode/exec:
   * `$POWERNODE_CACHE`, `$XDG_CACHE_HOME/powernode` or `~/.cache/powernode`).
   */
  cacheDir?: string;
  /** Agent entry; default `<repo>/node-agent/src/main.ts`. */
  agentEntry?: string;
  /** zstd level (default POWERNODE_INITRAMFS_ZSTD_LEVEL, else 19; lower is faster to build, larger to ship). */
  compressionLevel?: number;
  /** Progress lines (default: stderr). */
  log?: (line: string) => void;
  exec?: Exec;
}

export interface BuildImageResult {
  kernelPath: string;
  initramfsPath: string;
  /** The same archive uncompressed (faster to boot under TCG). */
  initramfsRawPath: string;
  manifest: BuildManifest;
  /** True when the existing image matched the inputs and nothing was rebuilt. */
  reused: boolean;
}

/** `<outDir>/<arch>/kernel-initrd`, where the QEMU provider looks. */
export function imageDir(outDir: string, arch: Arch): string {
  return join(outDir, arch, "kernel-initrd");
}

/** sha256 of every builder source below `dir` (tests excluded), keyed by the path relative to `base`. */
function builderSources(dir: string, base = dir): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const ent of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = join(d, ent.name);
      if (ent.isDirectory() && !["build", "cache", "node_modules"].includes(ent.name)) walk(p);
      else if (ent.isFile() && ent.name.endsWith(".ts") && !ent.name.endsWith(".test.ts")) {
        out[relative(base, p)] = sha256Hex(readFileSync(p));
      }
    }
  };
  walk(dir);
  return out;
}

/**
 * The agent version: the package version plus the last commit that touched the agent's sources, so it
 * changes only when the agent does (the image is reused across unrelated commits).
 */
async function agentVersion(exec: Exec): Promise<string> {
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, "node-agent", "package.json"), "utf8")) as {
    version?: string;
  };
  const sha = (
    await exec.run("git", ["log", "-1", "--format=%h", "--", "node-agent", "proto", "composefs"], {
      cwd: REPO_ROOT,
      timeoutMs: 30_000,
    })
  ).stdout.trim();
  return `${pkg.version ?? "0.0.0"}+g${sha || "unknown"}`;
}

async function gitState(exec: Exec): Promise<{ gitSha: string; dirty: boolean }> {
  try {
    const sha = (
      await exec.run("git", ["rev-parse", "HEAD"], { cwd: REPO_ROOT, timeoutMs: 30_000 })
    ).stdout.trim();
    const st = await exec.run(
      "git",
      ["status", "--porcelain", "--", "node-agent", "proto", "composefs", "package.json", "bun.lock"],
      { cwd: REPO_ROOT, timeoutMs: 30_000 },
    );
    return { gitSha: sha, dirty: st.stdout.trim() !== "" };
  } catch (cause) {
    throw new Error("reading the agent's git state", { cause });
  }
}

/**
 * The same archive uncompressed, written beside the .zst: under TCG the kernel spends seconds
 * decompressing 110 MiB of zstd (measured: amd64 9.3 s -> 5.8 s, arm64 19.3 s -> 12.7 s to the agent's
 * first line), so the QEMU provider boots this one when it emulates. The .zst is the artifact to ship.
 */
const RAW_CPIO = "initramfs.cpio";

function readManifest(path: string): BuildManifest | undefined {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as BuildManifest;
  } catch {
    return undefined; // missing or torn manifest: rebuild
  }
}

function intact(dir: string, m: BuildManifest): boolean {
  const check = (name: string, want: string) =>
    existsSync(join(dir, name)) && sha256Hex(readFileSync(join(dir, name))) === want;
  return (
    check("kernel", m.artifacts.kernel.sha256) &&
    check("initramfs.cpio.zst", m.artifacts["initramfs.cpio.zst"].sha256) &&
    check(RAW_CPIO, m.artifacts.uncompressedCpio.sha256)
  );
}

/** POWERNODE_INITRAMFS_ZSTD_LEVEL (1..19) lets smokes and developers trade size for build time. */
function levelFromEnv(v: string | undefined): number | undefined {
  if (v === undefined || v === "") return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 19)
    throw new Error(`POWERNODE_INITRAMFS_ZSTD_LEVEL=${v}: expected 1..19`);
  return n;
}

function mib(n: number): string {
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/**
 * Builds (or reuses) the kernel-initrd image for one arch.
 * @example const { kernelPath, initramfsPath, reused } = await buildImage({ arch: "amd64" });
 */
export async function buildImage(opts: BuildImageOptions): Promise<BuildImageResult> {
  const outDir = opts.outDir ?? join(REPO_ROOT, "initramfs", "build");
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  return withLock(
    join(outDir, opts.arch, ".build.lock"),
    30 * 60_000,
    (owner) => log(`[initramfs ${opts.arch}] waiting for another build (pid ${owner}) to finish`),
    () => buildLocked({ ...opts, outDir, log }),
  );
}

async function buildLocked(
  opts: BuildImageOptions & { outDir: string; log: (l: string) => void },
): Promise<BuildImageResult> {
  const { arch, outDir, log } = opts;
  const exec = opts.exec ?? createExec();
  const cacheDir = opts.cacheDir ?? userCacheDir();
  const agentEntry = opts.agentEntry ?? join(REPO_ROOT, "node-agent", "src", "main.ts");
  const workDir = join(outDir, arch, "work");
  const dest = imageDir(outDir, arch);
  const level =
    opts.compressionLevel ?? levelFromEnv(process.env.POWERNODE_INITRAMFS_ZSTD_LEVEL) ?? ZSTD_LEVEL;
  const t0 = performance.now();
  const steps = 8;
  let n = 0;
  const step = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    const t = performance.now();
    n += 1;
    try {
      const r = await fn();
      log(`[initramfs ${arch}] ${n}/${steps} ${what} (${((performance.now() - t) / 1000).toFixed(1)} s)`);
      return r;
    } catch (cause) {
      throw new Error(`building the ${arch} image: ${what}`, { cause });
    }
  };

  const release = kernelRelease(arch);
  const kpkg = kernelPackage(arch);
  const picked = await step("resolve package versions", async () => {
    const index = await loadAptIndex(exec, arch, { suites: IMAGE_SUITES, cacheDir });
    const kernel = pickKernel(index, kpkg, KERNEL.debVersion);
    const userland = pickUserland(index, USERLAND_PACKAGES);
    const versions: Record<string, string> = {};
    for (const p of userland) versions[p.name] = p.version;
    return { kernel, userland, versions };
  });
  const pkgs = picked.versions;

  const roots = await step("fetch and unpack Debian packages", async () => {
    const wanted = [picked.kernel, ...picked.userland];
    const debs = await fetchDebs(exec, wanted, { cacheDir, log: (l) => log(`[initramfs ${arch}] ${l}`) });
    const unpacked = new Map<string, string>();
    for (const [i, p] of wanted.entries()) {
      const dir = join(cacheDir, "unpacked", debFileName(p).replace(/\.deb$/, ""));
      unpacked.set(p.name, await unpackDeb(exec, debs[i] as string, dir));
    }
    const root = (name: string): string => {
      const dir = unpacked.get(name);
      if (!dir) throw new Error(`${name}: not among the fetched packages`);
      return dir;
    };
    return {
      kernel: root(kpkg),
      libc: root("libc6"),
      libgcc: root("libgcc-s1"),
      busybox: root("busybox-static"),
      wireguardTools: root("wireguard-tools"),
    };
  });

  const bunVersion = readFileSync(join(REPO_ROOT, ".bun-version"), "utf8").trim();
  const agent = await step(`compile agent (${relative(REPO_ROOT, agentEntry)})`, async () => {
    const runtime = await fetchBunRuntime(exec, cacheDir, arch, bunVersion);
    const path = await compileAgent(exec, {
      arch,
      entry: agentEntry,
      outDir: join(workDir, "agent"),
      runtime,
      cwd: REPO_ROOT,
      version: await agentVersion(exec),
    });
    return { path, ...artifactOf(readFileSync(path)) };
  });

  const initInfo = opts.init ? artifactOf(readFileSync(opts.init)) : undefined;
  const kernelBytes = readFileSync(join(roots.kernel, "boot", `vmlinuz-${release}`));
  const inputHash = hashInputs({
    arch,
    builder: {
      ...builderSources(join(REPO_ROOT, "initramfs")),
      // the package fetching and unpacking code the image depends on
      ...builderSources(join(REPO_ROOT, "lib", "debian"), join(REPO_ROOT, "initramfs")),
    },
    kernel: { pkg: kpkg, version: KERNEL.debVersion, sha256: sha256Hex(kernelBytes) },
    packages: pkgs,
    agent: agent.sha256,
    init: initInfo?.sha256 ?? null,
    zstd: zstdArgs(level),
  });

  const manifestPath = join(dest, "build-manifest.json");
  const existing = await step("check for a reusable image", async () => {
    const m = readManifest(manifestPath);
    return !opts.force && m?.inputHash === inputHash && intact(dest, m) ? m : undefined;
  });
  const result = (manifest: BuildManifest, reused: boolean): BuildImageResult => ({
    kernelPath: join(dest, "kernel"),
    initramfsPath: join(dest, "initramfs.cpio.zst"),
    initramfsRawPath: join(dest, RAW_CPIO),
    manifest,
    reused,
  });
  if (existing) {
    log(
      `[initramfs ${arch}] inputs unchanged (${inputHash.slice(0, 12)}): reusing ${relative(REPO_ROOT, dest)}`,
    );
    log(
      `[initramfs ${arch}] initramfs ${mib(existing.artifacts["initramfs.cpio.zst"].size)} compressed, ` +
        `${mib(existing.artifacts.uncompressedCpio.size)} uncompressed; kernel ${mib(existing.artifacts.kernel.size)}`,
    );
    return result(existing, true);
  }

  const staged = await step("stage kernel modules", () =>
    stageKmods(exec, roots.kernel, release, join(workDir, "modules")),
  );
  if (staged.plan.warnings.length > 0)
    for (const w of staged.plan.warnings) log(`[initramfs ${arch}] warning: ${w}`);

  const { entries, cpio } = await step("write cpio", async () => {
    const entries = buildRootfsEntries({
      arch,
      release,
      agent: agent.path,
      busyboxRoot: roots.busybox,
      wireguardToolsRoot: roots.wireguardTools,
      libcRoot: roots.libc,
      libgccRoot: roots.libgcc,
      modulesRoot: staged.root,
      init: opts.init,
    });
    return { entries, cpio: writeCpio(entries, { mtime: SOURCE_DATE_EPOCH }) };
  });

  const zst = await step(`compress (zstd ${zstdArgs(level).join(" ")})`, async () => {
    const r = await exec.runBinary("zstd", [...zstdArgs(level), "-c"], { input: cpio, timeoutMs: 900_000 });
    return r.stdoutBytes;
  });

  const manifest = await step("write artifacts", async () => {
    const git = await gitState(exec);
    const m: BuildManifest = {
      schemaVersion: 1,
      arch,
      inputHash,
      sourceDateEpoch: SOURCE_DATE_EPOCH,
      kernel: { package: kpkg, version: KERNEL.debVersion, release },
      packages: pkgs,
      bun: { version: bunVersion, runtimePackage: BUN_RUNTIME_PACKAGE[arch] },
      agent: { ...git, sha256: agent.sha256, size: agent.size, path: `/${AGENT_PATH}` },
      ...(initInfo ? { init: initInfo } : {}),
      modules: {
        roots: [...KMOD_ROOTS],
        builtin: staged.plan.builtin,
        loadOrder: staged.order,
        warnings: staged.plan.warnings,
      },
      artifacts: {
        kernel: artifactOf(kernelBytes),
        "initramfs.cpio.zst": artifactOf(zst),
        uncompressedCpio: artifactOf(cpio),
      },
      files: listFiles(entries),
    };
    const tmp = `${dest}.tmp`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    writeFileSync(join(tmp, "kernel"), kernelBytes);
    writeFileSync(join(tmp, "initramfs.cpio.zst"), zst);
    writeFileSync(join(tmp, RAW_CPIO), cpio);
    writeFileSync(
      join(tmp, "SHA256SUMS"),
      formatSha256Sums({
        kernel: m.artifacts.kernel.sha256,
        "initramfs.cpio.zst": m.artifacts["initramfs.cpio.zst"].sha256,
        [RAW_CPIO]: m.artifacts.uncompressedCpio.sha256,
      }),
    );
    writeFileSync(join(tmp, "build-manifest.json"), `${JSON.stringify(m, null, 2)}\n`);
    rmSync(dest, { recursive: true, force: true });
    renameSync(tmp, dest);
    return m;
  });

  log(
    `[initramfs ${arch}] built ${relative(REPO_ROOT, dest)} in ${((performance.now() - t0) / 1000).toFixed(1)} s: ` +
      `initramfs ${mib(manifest.artifacts["initramfs.cpio.zst"].size)} compressed, ` +
      `${mib(manifest.artifacts.uncompressedCpio.size)} uncompressed; kernel ${mib(manifest.artifacts.kernel.size)}; ` +
      `${staged.order.length} modules`,
  );
  return result(manifest, false);
}
