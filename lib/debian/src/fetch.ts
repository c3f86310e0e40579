/**
 * Fetching and unpacking Debian packages. Downloads live in the per-user cache (`<cacheDir()>/debs`):
 * one `apt-get download` for every package missing there (apt checks the file against the signed index),
 * into a private directory first and then renamed, so a cut-off download never looks cached. Every use
 * checks each cached file's size and sha256 against the index entry; a file that does not match is
 * deleted and downloaded again. Unpacking is `dpkg-deb -x`; maintainer scripts are never run.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { cacheDir as defaultCacheDir, type Exec } from "@powernode/exec";
import type { DebPackage } from "./apt-index.ts";

/** The file name `apt-get download` gives a package (the epoch colon is escaped as %3a). */
export function debFileName(p: Pick<DebPackage, "name" | "version" | "architecture">): string {
  return `${p.name}_${p.version.replace(":", "%3a")}_${p.architecture}.deb`;
}

/** sha256 of a file, hex, streamed. */
async function sha256Of(path: string): Promise<string> {
  const h = new Bun.CryptoHasher("sha256");
  for await (const chunk of Bun.file(path).stream()) h.update(chunk);
  return h.digest("hex");
}

/** Why the file at `path` is not the .deb the index entry describes (size, then sha256); undefined if it is. */
export async function verifyDeb(
  path: string,
  p: Pick<DebPackage, "size" | "sha256">,
): Promise<string | undefined> {
  const size = statSync(path).size;
  if (size !== p.size) return `has ${size} bytes, the index says ${p.size}`;
  const sha = await sha256Of(path);
  if (sha !== p.sha256) return `has sha256 ${sha}, the index says ${p.sha256}`;
  return undefined;
}

/** Options for {@link fetchDebs}. */
export interface FetchDebsOptions {
  /** Cache root (the files go to `<root>/debs`); default the per-user cache (`cacheDir()`). */
  cacheDir?: string;
  /** Told about every cached file that failed its check and is downloaded again (default: stderr). */
  log?: (line: string) => void;
}

/**
 * Makes sure every package is in the cache and matches its index entry (one apt-get call for the missing
 * or damaged ones); returns the paths, in the order of `pkgs`.
 */
export async function fetchDebs(
  exec: Exec,
  pkgs: readonly DebPackage[],
  opts: FetchDebsOptions = {},
): Promise<string[]> {
  const dir = join(opts.cacheDir ?? defaultCacheDir(), "debs");
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  for (const p of pkgs) {
    if (p.sha256 === "")
      throw new Error(`${p.name} ${p.version}: the index entry has no SHA256: cannot check the download`);
  }
  mkdirSync(dir, { recursive: true });
  const missing = new Map<string, DebPackage>();
  for (const p of pkgs) {
    const f = debFileName(p);
    const path = join(dir, f);
    if (missing.has(f)) continue;
    if (!existsSync(path)) {
      missing.set(f, p);
      continue;
    }
    const bad = await verifyDeb(path, p);
    if (bad === undefined) continue;
    log(`${f}: the cached file ${bad}: deleting it and downloading it again`);
    rmSync(path, { force: true });
    missing.set(f, p);
  }
  if (missing.size > 0) {
    // Download into a private directory, then move: a cut-off download never looks cached.
    const tmp = join(dir, `.download-${process.pid}-${Date.now()}`);
    mkdirSync(tmp, { recursive: true });
    try {
      const want = [...missing.values()].map((p) => `${p.name}:${p.architecture}=${p.version}`);
      await exec.run("apt-get", ["download", "-q", ...want], { cwd: tmp, timeoutMs: 600_000 });
      for (const [f, p] of missing) {
        const got = join(tmp, f);
        if (!existsSync(got)) {
          throw new Error(`apt-get download: expected ${f}, got ${readdirSync(tmp).join(", ") || "nothing"}`);
        }
        const bad = await verifyDeb(got, p);
        if (bad !== undefined) throw new Error(`apt-get download: ${f} ${bad} (apt lists changed? rerun)`);
        renameSync(got, join(dir, f));
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  return pkgs.map((p) => join(dir, debFileName(p)));
}

/** Unpacks one .deb's data into the existing directory `root` (dpkg-deb -x keeps modes and mtimes). */
export async function extractDeb(exec: Exec, deb: string, root: string): Promise<void> {
  await exec.run("dpkg-deb", ["-x", deb, root], { timeoutMs: 300_000 });
}

/**
 * Unpacks a .deb into `dir` once (a `.unpacked` marker records completion; a later call returns at once);
 * returns `dir`. Unpacks into a per-process temp dir renamed into place, so two builds sharing the cache
 * may unpack the same package at the same time.
 */
export async function unpackDeb(exec: Exec, deb: string, dir: string): Promise<string> {
  const marker = join(dir, ".unpacked");
  if (existsSync(marker)) return dir;
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  await extractDeb(exec, deb, tmp);
  if (existsSync(marker)) {
    rmSync(tmp, { recursive: true, force: true }); // another build finished first
    return dir;
  }
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  writeFileSync(marker, `${basename(deb)}\n`);
  return dir;
}
