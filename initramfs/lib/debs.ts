/**
 * Debian packages for the image: version lookup, `apt-get download` into a cache and
 * `dpkg-deb -x` unpacking. Uses the machine's configured apt sources (no mirror names here).
 */
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import type { Arch } from "../versions.ts";
import type { Exec } from "./exec.ts";

/** One line of `apt-cache madison`: package (without `:arch`), version and the suite it comes from. */
export interface MadisonLine {
  pkg: string;
  version: string;
  suite: string;
}

/** Parses `apt-cache madison` output (apt lists each package's versions newest first). */
export function parseMadison(text: string): MadisonLine[] {
  const out: MadisonLine[] = [];
  for (const line of text.split("\n")) {
    const parts = line.split("|").map((s) => s.trim());
    if (parts.length < 3) continue;
    const suite = (parts[2] ?? "").split(/\s+/)[1]?.split("/")[0] ?? "";
    out.push({ pkg: (parts[0] ?? "").replace(/:.*$/, ""), version: parts[1] ?? "", suite });
  }
  return out;
}

/**
 * `apt-cache madison` for several packages of one arch in one call, cached in cacheFile until the
 * apt lists change (apt-get update), because apt-cache takes seconds and the smoke calls the
 * builder on every run.
 */
export async function madison(
  exec: Exec,
  pkgs: readonly string[],
  arch: Arch,
  cacheFile: string,
): Promise<MadisonLine[]> {
  const listsDir = "/var/lib/apt/lists";
  const stamp = existsSync(listsDir)
    ? readdirSync(listsDir)
        .filter((f) => f.endsWith("Packages") || f.endsWith("Release"))
        .sort()
        .map((f) => `${f}:${statSync(join(listsDir, f)).mtimeMs}`)
        .join(",")
    : "";
  const key = JSON.stringify({ pkgs, arch, stamp });
  try {
    const c = JSON.parse(readFileSync(cacheFile, "utf8")) as { key: string; lines: MadisonLine[] };
    if (c.key === key) return c.lines;
  } catch {
    // no cache yet or unreadable: ask apt
  }
  const { stdout } = await exec.run("apt-cache", ["madison", ...pkgs.map((p) => `${p}:${arch}`)], {
    timeoutMs: 120_000,
  });
  const lines = parseMadison(stdout);
  mkdirSync(dirname(cacheFile), { recursive: true });
  writeFileSync(cacheFile, JSON.stringify({ key, lines }));
  return lines;
}

/** The newest version from bookworm itself, -updates or -security (never trixie or backports). */
export function pickBookworm(lines: readonly MadisonLine[]): string | undefined {
  return lines.find((l) => /^bookworm(-updates|-security)?$/.test(l.suite))?.version;
}

/** The newest bookworm version of pkg among madison lines; throws if bookworm has none. */
export function bookwormVersionOf(lines: readonly MadisonLine[], pkg: string, arch: Arch): string {
  const v = pickBookworm(lines.filter((l) => l.pkg === pkg));
  if (!v) throw new Error(`${pkg}:${arch}: no bookworm version in the apt sources (apt-cache madison)`);
  return v;
}

/**
 * Checks the pinned kernel package is among the madison lines; if not, the error names the newest
 * 6.12 package of the same flavour so versions.ts can be updated.
 */
export async function assertKernelAvailable(
  exec: Exec,
  lines: readonly MadisonLine[],
  pkg: string,
  version: string,
  arch: Arch,
): Promise<void> {
  if (lines.some((l) => l.pkg === pkg && l.version === version)) return;
  const flavour = pkg.replace(/^linux-image-[^-]+-/, "").replace(/-unsigned$/, "");
  const search = await exec.run(
    "apt-cache",
    ["search", "--names-only", `^linux-image-6\\.12\\.[0-9]+\\+deb12-${flavour}-unsigned$`],
    { timeoutMs: 60_000 },
  );
  const names = search.stdout
    .split("\n")
    .map((l) => l.split(" ")[0] ?? "")
    .filter((n) => n !== "")
    .sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
  const newest = names.at(-1);
  throw new Error(
    `kernel package ${pkg}=${version} (${arch}) is no longer in the apt sources; ` +
      (newest
        ? `newest available: ${newest}; update KERNEL in initramfs/versions.ts`
        : "no 6.12 package found"),
  );
}

/** The file name apt-get download gives a package (the epoch colon is escaped as %3a). */
export function debFileName(pkg: string, version: string, arch: Arch): string {
  return `${pkg}_${version.replace(":", "%3a")}_${arch}.deb`;
}

/** Downloads pkg=version for arch into dir unless already there; returns the .deb path. */
export async function fetchDeb(
  exec: Exec,
  dir: string,
  pkg: string,
  version: string,
  arch: Arch,
): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, debFileName(pkg, version, arch));
  if (existsSync(file)) return file;
  await exec.run("apt-get", ["download", "-q", `${pkg}:${arch}=${version}`], {
    cwd: dir,
    timeoutMs: 600_000,
  });
  if (!existsSync(file)) {
    throw new Error(
      `apt-get download ${pkg}:${arch}=${version}: expected ${file}, found ${readdirSync(dir).join(", ")}`,
    );
  }
  return file;
}

/** Unpacks a .deb with dpkg-deb -x into dir (once; a marker file records completion). */
export async function unpackDeb(exec: Exec, deb: string, dir: string): Promise<string> {
  const marker = join(dir, ".unpacked");
  if (existsSync(marker)) return dir;
  // A per-process temp dir: two builds sharing the cache may unpack the same package at once.
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  await exec.run("dpkg-deb", ["-x", deb, tmp], { timeoutMs: 300_000 });
  if (existsSync(marker)) {
    rmSync(tmp, { recursive: true, force: true }); // another build finished first
    return dir;
  }
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  writeFileSync(marker, `${deb}\n`);
  return dir;
}
