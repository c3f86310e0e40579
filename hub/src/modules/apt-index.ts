/**
 * The package index of one architecture, read from the machine's apt lists (the sources apt is configured
 * with; no mirror names here): `apt-get indextargets` names the Packages files, `apt-helper cat-file`
 * decompresses them. Only the bookworm suites count (bookworm, -updates, -security); trixie and backports
 * are never picked. Per package the newest version among them wins, as apt's candidate would.
 */
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Exec } from "@powernode/exec";
import { compareDebVersions, type DebRelation } from "./debian-version.ts";

/** Module architectures (Debian names). */
export type DebArch = "amd64" | "arm64";

/** One alternative of a dependency: `name[:any] [(rel version)]`. */
export interface DebDependency {
  name: string;
  rel?: DebRelation | "<" | ">";
  version?: string;
}

/** One package as the index describes it. */
export interface DebPackage {
  name: string;
  version: string;
  /** The package's own architecture: the module's, or "all". */
  architecture: string;
  /** Depends and Pre-Depends; each entry is a list of alternatives. */
  depends: DebDependency[][];
  provides: { name: string; version?: string }[];
  essential: boolean;
  suite: string;
}

/** Packages by name, and who provides each virtual name. */
export interface AptIndex {
  arch: DebArch;
  packages: Map<string, DebPackage>;
  providers: Map<string, DebPackage[]>;
  /** The Packages files read (basenames), for the record. */
  files: string[];
}

/** The suites a module may take packages from. */
export const BOOKWORM_SUITES = ["bookworm", "bookworm-updates", "bookworm-security"] as const;

const DEP_RE =
  /^([a-z0-9][a-z0-9+.-]*)(?::[a-z0-9-]+)?\s*(?:\(\s*(<<|<=|=|>=|>>|<|>)\s*([^)\s]+)\s*\))?\s*(?:\[[^\]]*\])?\s*(?:<[^>]*>)?$/;

/** Parses a Depends/Pre-Depends/Provides value; throws naming the field on a malformed entry. */
export function parseDependencyField(field: string, value: string): DebDependency[][] {
  const groups: DebDependency[][] = [];
  for (const group of value.split(",")) {
    if (group.trim() === "") continue;
    const alts: DebDependency[] = [];
    for (const alt of group.split("|")) {
      const m = DEP_RE.exec(alt.trim());
      if (!m?.[1]) throw new Error(`${field}: cannot parse "${alt.trim()}"`);
      const d: DebDependency = { name: m[1] };
      if (m[2] && m[3]) {
        d.rel = m[2] as DebDependency["rel"];
        d.version = m[3];
      }
      alts.push(d);
    }
    groups.push(alts);
  }
  return groups;
}

/** Parses Packages text; keeps the stanzas of `arch` and "all". */
export function parsePackagesText(text: string, arch: DebArch, suite: string): DebPackage[] {
  const out: DebPackage[] = [];
  for (const stanza of text.split("\n\n")) {
    const f = new Map<string, string>();
    for (const line of stanza.split("\n")) {
      if (line === "" || line.startsWith(" ") || line.startsWith("\t")) continue;
      const colon = line.indexOf(":");
      if (colon <= 0) continue;
      f.set(line.slice(0, colon), line.slice(colon + 1).trim());
    }
    const name = f.get("Package");
    const version = f.get("Version");
    const architecture = f.get("Architecture");
    if (!name || !version || !architecture) continue;
    if (architecture !== arch && architecture !== "all") continue;
    const where = `${name} ${version}`;
    out.push({
      name,
      version,
      architecture,
      depends: [
        ...parseDependencyField(`${where} Pre-Depends`, f.get("Pre-Depends") ?? ""),
        ...parseDependencyField(`${where} Depends`, f.get("Depends") ?? ""),
      ],
      provides: parseDependencyField(`${where} Provides`, f.get("Provides") ?? "").map((g) => ({
        name: g[0]?.name ?? "",
        ...(g[0]?.version ? { version: g[0].version } : {}),
      })),
      essential: f.get("Essential") === "yes",
      suite,
    });
  }
  return out;
}

/** Builds the index from parsed packages: newest version per name, providers sorted by name. */
export function indexPackages(arch: DebArch, pkgs: readonly DebPackage[], files: string[]): AptIndex {
  const packages = new Map<string, DebPackage>();
  for (const p of pkgs) {
    const have = packages.get(p.name);
    if (!have || compareDebVersions(p.version, have.version) > 0) packages.set(p.name, p);
  }
  const providers = new Map<string, DebPackage[]>();
  for (const p of packages.values()) {
    for (const v of p.provides) {
      const list = providers.get(v.name) ?? [];
      list.push(p);
      providers.set(v.name, list);
    }
  }
  for (const list of providers.values())
    list.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { arch, packages, providers, files };
}

const cache = new Map<DebArch, Promise<AptIndex>>();

/**
 * Loads the bookworm index of `arch` from the apt lists (once per process). Throws when a suite has no
 * Packages file for the arch (run `apt-get update`, and `dpkg --add-architecture arm64` for arm64).
 */
export function loadAptIndex(exec: Exec, arch: DebArch, cacheDir?: string): Promise<AptIndex> {
  let p = cache.get(arch);
  if (!p) {
    p = readAptIndex(exec, arch, cacheDir);
    cache.set(arch, p);
    p.catch(() => cache.delete(arch));
  }
  return p;
}

async function readAptIndex(exec: Exec, arch: DebArch, cacheDir?: string): Promise<AptIndex> {
  const { stdout } = await exec.run(
    "apt-get",
    ["indextargets", "--format", "$(FILENAME)\t$(RELEASE)\t$(ARCHITECTURE)\t$(IDENTIFIER)"],
    { timeoutMs: 60_000 },
  );
  const targets = stdout
    .split("\n")
    .map((l) => l.split("\t"))
    .filter(
      ([, release, a, id]) =>
        id === "Packages" && a === arch && (BOOKWORM_SUITES as readonly string[]).includes(release ?? ""),
    );
  const missing = BOOKWORM_SUITES.filter((s) => !targets.some(([, release]) => release === s));
  if (missing.includes("bookworm")) {
    throw new Error(
      `apt lists: no bookworm Packages index for ${arch} (dpkg --add-architecture ${arch}; apt-get update)`,
    );
  }
  // Parsing ~50 MB of Packages text takes seconds; the parsed records are cached until a list changes.
  const key = targets
    .map(([file]) => {
      const st = statSync(file ?? "");
      return `${file}:${st.size}:${st.mtimeMs}`;
    })
    .join(",");
  const cacheFile = cacheDir ? join(cacheDir, `apt-index-${arch}.json`) : undefined;
  if (cacheFile) {
    try {
      const c = JSON.parse(readFileSync(cacheFile, "utf8")) as {
        key: string;
        files: string[];
        pkgs: DebPackage[];
      };
      if (c.key === key) return indexPackages(arch, c.pkgs, c.files);
    } catch {
      // no cache yet or unreadable: parse the lists
    }
  }
  const all: DebPackage[] = [];
  const files: string[] = [];
  for (const [file, release] of targets) {
    if (!file || !release) continue;
    const { stdout: text } = await exec.run("/usr/lib/apt/apt-helper", ["cat-file", file], {
      timeoutMs: 120_000,
    });
    all.push(...parsePackagesText(text, arch, release));
    files.push(file.slice(file.lastIndexOf("/") + 1));
  }
  files.sort();
  if (cacheFile && cacheDir) {
    mkdirSync(cacheDir, { recursive: true });
    writeFileSync(`${cacheFile}.${process.pid}.tmp`, JSON.stringify({ key, files, pkgs: all }));
    renameSync(`${cacheFile}.${process.pid}.tmp`, cacheFile);
  }
  return indexPackages(arch, all, files);
}
