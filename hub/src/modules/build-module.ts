/**
 * buildModule: a directory, a tar or Debian packages of the target arch -> a staging root -> the module's
 * images (composefs metadata, EROFS blob, dm-verity hash tree) and its manifest (the OCI config blob).
 * The same inputs give the same bytes: staging normalises times, modes of recipe files and the layout.
 */
import { chmodSync, lchownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { buildModuleImages } from "@powernode/composefs";
import { type DebArch, extractDeb, fetchDebs, loadAptIndex } from "@powernode/debian";
import { createExec, type Exec } from "@powernode/exec";
import { type ModuleManifest, type ModuleService, parseModuleManifest } from "@powernode/oci";
import { resolveClosure } from "./resolve.ts";
import {
  copyRecipeFiles,
  dropDocs,
  dropPaths,
  type Generator,
  makeDirsAndLinks,
  mergeTree,
  mergeUsr,
  normalizeTimes,
  runGenerators,
} from "./stage.ts";

/** Where a module's files come from. */
export type ModuleSource =
  | { dir: string }
  | { tar: string }
  | {
      debian: {
        /** Packages to ship with their Depends closure; the first one names the default version. */
        packages: string[];
        /** Packages the base module ships (same arch, same apt lists): not shipped again. */
        base?: string[];
        /** Names treated as satisfied without shipping (maintainer-script tools). */
        exclude?: string[];
      };
    };

/** Input of {@link buildModule}. */
export interface BuildModuleInput {
  source: ModuleSource;
  name: string;
  /** Default: the first Debian package's version (":" and "~" become "_"), plus `versionSuffix`. */
  version?: string;
  versionSuffix?: string;
  arch: DebArch;
  priority: number;
  services?: ModuleService[];
  outDir: string;
  /** A directory copied over the staging root (config files, pages). */
  files?: string;
  /** Directories to create (absolute paths inside the module). */
  dirs?: string[];
  /** Symbolic links to create: path -> target. */
  symlinks?: Record<string, string>;
  /** Create the merged-/usr links /bin, /sbin, /lib (and /lib64 on amd64): system-base only. */
  usrLinks?: boolean;
  /** Paths removed from the staged source before the recipe's files are copied; each must exist. */
  drop?: string[];
  /** Build-time generators (see stage.ts). */
  generate?: Generator[];
  /** Every entry's mtime, seconds (default 0). */
  mtime?: number;
  /**
   * Root of the download cache (`<root>/debs`, checked against the index sha256 on every use) and the
   * parsed apt index (`<root>/apt-index`); default the per-user cache, `cacheDir()` of @powernode/exec.
   */
  cacheDir?: string;
  exec?: Exec;
}

/** The files of a built module (all in outDir). */
export interface BuiltModuleFiles {
  metadata: string;
  blob: string;
  verity: string;
  /** The manifest JSON exactly as pushed as the OCI config blob. */
  config: string;
}

/** A built module: its manifest and files. */
export interface BuiltModule {
  manifest: ModuleManifest;
  files: BuiltModuleFiles;
}

/**
 * Dependencies every Debian module leaves out: tools only maintainer scripts use (users, debconf
 * questions, conffile merging, init-system registration). Modules are unpacked, never "installed", so
 * these never run; service accounts live in system-base's /etc/passwd instead.
 */
export const MAINTAINER_SCRIPT_PACKAGES = [
  "adduser",
  "debconf",
  "debconf-2.0",
  "init-system-helpers",
  "lsb-base",
  "sysvinit-utils",
  "ucf",
  "install-info",
] as const;

/** A Debian version as a module version: the catalog and manifest allow neither ":" nor "~". */
export function toModuleVersion(debVersion: string): string {
  return debVersion.replace(/[:~]/g, "_");
}

/** sha256 of a file, hex, streamed. */
export async function sha256File(path: string): Promise<string> {
  const h = new Bun.CryptoHasher("sha256");
  for await (const chunk of Bun.file(path).stream()) h.update(chunk);
  return h.digest("hex");
}

/**
 * Builds a module into `outDir` (metadata.cfs, blob.erofs, blob.verity, module.json).
 * @example
 * const b = await buildModule({ source: { debian: { packages: ["chrony"], base } }, name: "chrony",
 *   arch: "arm64", priority: 20, outDir: "out/chrony-arm64" });
 */
export async function buildModule(input: BuildModuleInput): Promise<BuiltModule> {
  const exec = input.exec ?? createExec();
  const outDir = resolve(input.outDir);
  mkdirSync(outDir, { recursive: true });
  const staging = mkdtempSync(join(tmpdir(), `pn-module-${input.name}-`));
  try {
    const root = join(staging, "root");
    mkdirSync(root);
    const { source, defaultVersion } = await stageSource(exec, input, root);
    dropPaths(root, input.drop ?? []);
    if (input.files) copyRecipeFiles(input.files, root);
    makeDirsAndLinks(root, input.dirs ?? [], input.symlinks ?? {});
    runGenerators(root, input.generate ?? []);
    chmodSync(root, 0o755);
    lchownSync(root, 0, 0);
    normalizeTimes(root, input.mtime ?? 0);

    const version =
      input.version ??
      (defaultVersion !== undefined
        ? `${toModuleVersion(defaultVersion)}${input.versionSuffix ?? ""}`
        : undefined);
    if (!version) throw new Error(`module ${input.name}: version required (source has no Debian package)`);

    const images = await buildModuleImages(root, outDir, { exec });
    rmSync(images.objectsDir, { recursive: true, force: true }); // packed in the blob image
    const [metadataSha, blobSha, veritySha] = await Promise.all([
      sha256File(images.metadataImage),
      sha256File(images.blobImage),
      sha256File(images.verityHashFile),
    ]);
    const manifest: ModuleManifest = {
      schemaVersion: 1,
      name: input.name,
      version,
      arch: input.arch,
      priority: input.priority,
      services: input.services ?? [],
      metadataDigest: images.metadataDigest,
      verityRootHash: images.verityRootHash,
      veritySalt: images.veritySalt,
      verityDataBlocks: images.sizes.blob / 4096,
      sizes: { metadata: images.sizes.metadata, blob: images.sizes.blob, verity: images.sizes.verity },
      sha256: { metadata: metadataSha, blob: blobSha, verity: veritySha },
      source,
    };
    const parsed = parseModuleManifest(JSON.parse(JSON.stringify(manifest)));
    if (!parsed.ok) throw new Error(`module ${input.name}: built an invalid manifest: ${parsed.error}`);
    const config = join(outDir, "module.json");
    writeFileSync(config, `${JSON.stringify(manifest, null, 2)}\n`);
    return {
      manifest,
      files: {
        metadata: images.metadataImage,
        blob: images.blobImage,
        verity: images.verityHashFile,
        config,
      },
    };
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

async function stageSource(
  exec: Exec,
  input: BuildModuleInput,
  root: string,
): Promise<{ source: Record<string, string>; defaultVersion?: string }> {
  const s = input.source;
  if ("dir" in s) {
    await exec.run("cp", ["-a", "--", `${resolve(s.dir)}/.`, root], { timeoutMs: 600_000 });
    mergeUsr(root, input.usrLinks ?? false, input.arch);
    return { source: { type: "dir", path: resolve(s.dir) } };
  }
  if ("tar" in s) {
    await exec.run(
      "tar",
      [
        "-x",
        "-p",
        "--same-owner",
        "--numeric-owner",
        "--xattrs",
        "--xattrs-include=*",
        "-f",
        resolve(s.tar),
        "-C",
        root,
      ],
      { timeoutMs: 600_000 },
    );
    mergeUsr(root, input.usrLinks ?? false, input.arch);
    return { source: { type: "tar", sha256: await sha256File(resolve(s.tar)) } };
  }
  const deb = s.debian;
  if (deb.packages.length === 0) throw new Error(`module ${input.name}: source.debian.packages is empty`);
  const cache = input.cacheDir ? { cacheDir: input.cacheDir } : {};
  const index = await loadAptIndex(exec, input.arch, cache);
  const res = resolveClosure(index, deb.packages, {
    ...(deb.base ? { base: deb.base } : {}),
    exclude: [...MAINTAINER_SCRIPT_PACKAGES, ...(deb.exclude ?? [])],
  });
  const files = await fetchDebs(exec, res.packages, cache);
  // Each package is unpacked on its own, merged-/usr'd, then merged into the root: two packages shipping
  // different content at one path is an error instead of "the later one wins".
  for (const [i, f] of files.entries()) {
    const pkg = res.packages[i]?.name ?? f;
    const own = join(root, "..", `pkg-${i}`);
    mkdirSync(own);
    await extractDeb(exec, f, own);
    mergeUsr(own, false, input.arch);
    mergeTree(own, root, `package ${pkg}`);
  }
  mergeUsr(root, input.usrLinks ?? false, input.arch);
  dropDocs(root);
  const main = index.packages.get(deb.packages[0] ?? "");
  return {
    source: {
      type: "debian",
      suites: index.suites.join(","),
      packages: res.packages.map((p) => `${p.name}=${p.version}`).join(" "),
      omitted: [...res.omitted]
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([n, why]) => `${n}(${why})`)
        .join(" "),
    },
    ...(main ? { defaultVersion: main.version } : {}),
  };
}
