/**
 * The package index of one architecture, read from the machine's apt lists (the sources apt is configured
 * with; no mirror names here): `apt-get indextargets` names the Packages files, `apt-helper cat-file`
 * decompresses them. Only the suites asked for count (default bookworm, -updates, -security: trixie and
 * backports are never picked). Per package the newest version among them wins, as apt's candidate would;
 * every version stays findable (the node kernel is pinned to an exact one).
 */
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cacheDir as defaultCacheDir, type Exec } from "@powernode/exec";
import { compareDebVersions, type DebRelation } from "./version.ts";

/** Architectures (Debian names). */
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
  /** The package's own architecture: the index's, or "all". */
  architecture: string;
  /** Depends and Pre-Depends; each entry is a list of alternatives. */
  depends: DebDependency[][];
  provides: { name: string; version?: string }[];
  essential: boolean;
  suite: string;
  /** `Filename:`, the path in the archive ("" when the stanza has none). */
  filename: string;
  /** `Size:` of the .deb in bytes (0 when the stanza has none). */
  size: number;
  /** `SHA256:` of the .deb, lowercase hex ("" when the stanza has none). */
  sha256: string;
}

/** Packages by name, and who provides each virtual name. */
export interface AptIndex {
  arch: DebArch;
  /** The suites read, in the order asked for. */
  suites: readonly string[];
  /** The newest version of each name. */
  packages: Map<string, DebPackage>;
  /** Providers of each virtual name (among the newest versions), sorted by name. */
  providers: Map<string, DebPackage[]>;
  /** The Packages files read (basenames), for the record. */
  files: string[];
  /** Every version of `name` in the suites read, newest first (empty when there is none). */
  versions(name: string): readonly DebPackage[];
  /** The entry of `name` at exactly `version`. */
  find(name: string, version: string): DebPackage | undefined;
}

/** The suites a module (and the image's userland) may take packages from. */
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

function parseSize(where: string, value: string | undefined): number {
  if (value === undefined) return 0;
  if (!/^[0-9]+$/.test(value)) throw new Error(`${where} Size: not a byte count: "${value}"`);
  return Number(value);
}

function parseSha256(where: string, value: string | undefined): string {
  if (value === undefined) return "";
  if (!/^[0-9a-fA-F]{64}$/.test(value)) throw new Error(`${where} SHA256: not 64 hex digits: "${value}"`);
  return value.toLowerCase();
}

/** Parses Packages text; keeps the stanzas of `arch` and "all". Throws naming the field on bad values. */
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
      filename: f.get("Filename") ?? "",
      size: parseSize(where, f.get("Size")),
      sha256: parseSha256(where, f.get("SHA256")),
    });
  }
  return out;
}

/**
 * Builds the index from parsed packages: every version per name (newest first; equal versions keep their
 * order), the newest per name, providers sorted by name.
 */
export function indexPackages(
  arch: DebArch,
  pkgs: readonly DebPackage[],
  files: string[],
  suites: readonly string[] = BOOKWORM_SUITES,
): AptIndex {
  const all = new Map<string, DebPackage[]>();
  for (const p of pkgs) {
    const list = all.get(p.name);
    if (list) list.push(p);
    else all.set(p.name, [p]);
  }
  const packages = new Map<string, DebPackage>();
  for (const [name, list] of all) {
    list.sort((a, b) => compareDebVersions(b.version, a.version)); // stable: ties keep read order
    packages.set(name, list[0] as DebPackage);
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
  return {
    arch,
    suites: [...suites],
    packages,
    providers,
    files,
    versions: (name) => all.get(name) ?? [],
    find: (name, version) => all.get(name)?.find((p) => p.version === version),
  };
}

/** Options for {@link loadAptIndex}. */
export interface LoadAptIndexOptions {
  /** The suites to read (default {@link BOOKWORM_SUITES}); each must have a Packages file for the arch. */
  suites?: readonly string[];
  /** Root of the parsed-index cache (`<root>/apt-index/`); default the per-user cache (`cacheDir()`). */
  cacheDir?: string;
}

const loaded = new Map<string, Promise<AptIndex>>();

/**
 * Loads the index of `arch` over `suites` from the apt lists (once per process). Throws when a suite has
 * no Packages file for the arch (run `apt-get update`, and `dpkg --add-architecture arm64` for arm64).
 */
export function loadAptIndex(exec: Exec, arch: DebArch, opts: LoadAptIndexOptions = {}): Promise<AptIndex> {
  const suites = [...(opts.suites ?? BOOKWORM_SUITES)];
  const root = opts.cacheDir ?? defaultCacheDir();
  const key = JSON.stringify([arch, suites, root]);
  let p = loaded.get(key);
  if (!p) {
    p = readAptIndex(exec, arch, suites, join(root, "apt-index"));
    loaded.set(key, p);
    p.catch(() => loaded.delete(key));
  }
  return p;
}

/** Bump when DebPackage or the parser changes: older cache files are parsed anew. */
const CACHE_FORMAT = 2;

async function readAptIndex(
  exec: Exec,
  arch: DebArch,
  suites: readonly string[],
  cache: string,
): Promise<AptIndex> {
  const { stdout } = await exec.run(
    "apt-get",
    ["indextargets", "--format", "$(FILENAME)\t$(RELEASE)\t$(ARCHITECTURE)\t$(IDENTIFIER)"],
    { timeoutMs: 60_000 },
  );
  const targets = stdout
    .split("\n")
    .map((l) => l.split("\t"))
    .filter(([, release, a, id]) => id === "Packages" && a === arch && suites.includes(release ?? ""));
  const missing = suites.filter((s) => !targets.some(([, release]) => release === s));
  if (missing.length > 0) {
    throw new Error(
      `apt lists: no ${missing.join(", ")} Packages index for ${arch} (dpkg --add-architecture ${arch}; apt-get update)`,
    );
  }
  const all: DebPackage[] = [];
  const files: string[] = [];
  for (const [file, release] of targets) {
    if (!file || !release) continue;
    all.push(...(await readPackagesFile(exec, file, arch, release, cache)));
    files.push(file.slice(file.lastIndexOf("/") + 1));
  }
  files.sort();
  return indexPackages(arch, all, files, suites);
}

/**
 * One Packages file, parsed. Parsing ~50 MB of Packages text takes seconds, so the records are kept in
 * `<cache>/<list file name>.json` until the list file's size or mtime changes (apt-get update).
 */
async function readPackagesFile(
  exec: Exec,
  file: string,
  arch: DebArch,
  suite: string,
  cache: string,
): Promise<DebPackage[]> {
  const st = statSync(file);
  const key = `${CACHE_FORMAT}:${arch}:${suite}:${st.size}:${st.mtimeMs}`;
  const cacheFile = join(cache, `${file.slice(file.lastIndexOf("/") + 1)}.json`);
  try {
    const c = JSON.parse(readFileSync(cacheFile, "utf8")) as { key: string; pkgs: DebPackage[] };
    if (c.key === key) return c.pkgs;
  } catch {
    // no cache yet or unreadable: parse the list
  }
  const { stdout: text } = await exec.run("/usr/lib/apt/apt-helper", ["cat-file", file], {
    timeoutMs: 120_000,
  });
  const pkgs = parsePackagesText(text, arch, suite);
  mkdirSync(cache, { recursive: true });
  const tmp = `${cacheFile}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify({ key, pkgs }));
  renameSync(tmp, cacheFile);
  return pkgs;
}
