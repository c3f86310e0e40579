/**
 * In-tree module recipes (`modules/<name>/module.json`): what a module is made of, independent of the
 * architecture. Parsed at the edge; the error names every bad field.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { DebArch } from "@powernode/debian";
import type { ModuleService } from "@powernode/oci";
import type { BuildModuleInput, ModuleSource } from "./build-module.ts";
import { GENERATORS, type Generator } from "./stage.ts";

/** A parsed recipe; relative paths are resolved against the recipe's directory. */
export interface ModuleRecipe {
  name: string;
  description: string;
  priority: number;
  /** Explicit module version (else the first Debian package's version + versionSuffix). */
  version?: string;
  versionSuffix?: string;
  /** Name of the module whose packages count as installed (Debian sources), e.g. "system-base". */
  base?: string;
  source: ModuleSource;
  /** Absolute path of the files/ tree copied over the root, when the recipe has one. */
  files?: string;
  dirs: string[];
  symlinks: Record<string, string>;
  usrLinks: boolean;
  /** Paths removed from the unpacked packages (tools a node never runs); each must exist. */
  drop: string[];
  generate: Generator[];
  services: ModuleService[];
  /** The recipe's directory. */
  dir: string;
}

const NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const PKG = /^[a-z0-9][a-z0-9+.-]+$/;

const isStrArray = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === "string");

/** Parses a recipe object read from `file`. */
export function parseRecipe(
  input: unknown,
  file: string,
): { ok: true; value: ModuleRecipe } | { ok: false; error: string } {
  const problems: string[] = [];
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    return { ok: false, error: `${file}: not a JSON object` };
  }
  const r = input as Record<string, unknown>;
  const dir = dirname(resolve(file));
  const known = new Set([
    "name",
    "description",
    "priority",
    "version",
    "versionSuffix",
    "base",
    "source",
    "files",
    "dirs",
    "symlinks",
    "usrLinks",
    "drop",
    "generate",
    "services",
  ]);
  for (const k of Object.keys(r)) if (!known.has(k)) problems.push(`${k}: unknown field`);
  if (typeof r.name !== "string" || !NAME.test(r.name)) problems.push("name: 1-63 of a-z, 0-9, '-'");
  if (r.description !== undefined && typeof r.description !== "string")
    problems.push("description: not a string");
  if (typeof r.priority !== "number" || !Number.isInteger(r.priority))
    problems.push("priority: not an integer");
  for (const k of ["version", "versionSuffix", "base", "files"] as const) {
    if (r[k] !== undefined && typeof r[k] !== "string") problems.push(`${k}: not a string`);
  }
  if (
    r.dirs !== undefined &&
    !(isStrArray(r.dirs) && r.dirs.every((d) => /^\/[^:]*(:[0-7]{3,4}(:\d+:\d+)?)?$/.test(d)))
  )
    problems.push('dirs: must be absolute paths, optionally ":<octal mode>[:<uid>:<gid>]"');
  if (
    r.generate !== undefined &&
    !(isStrArray(r.generate) && r.generate.every((g) => (GENERATORS as readonly string[]).includes(g)))
  )
    problems.push(`generate: known generators are ${GENERATORS.join(", ")}`);
  const links = r.symlinks;
  if (
    links !== undefined &&
    (typeof links !== "object" ||
      links === null ||
      !Object.entries(links).every(([k, v]) => k.startsWith("/") && typeof v === "string" && v !== ""))
  )
    problems.push("symlinks: must map absolute paths to targets");
  if (r.usrLinks !== undefined && typeof r.usrLinks !== "boolean") problems.push("usrLinks: not a boolean");
  if (
    r.drop !== undefined &&
    !(isStrArray(r.drop) && r.drop.every((d) => /^\/[^\0]+$/.test(d) && !d.includes("..")))
  )
    problems.push("drop: must be absolute paths without '..'");
  if (r.services !== undefined && !Array.isArray(r.services)) problems.push("services: not an array");

  let source: ModuleSource | undefined;
  const s = r.source as Record<string, unknown> | undefined;
  if (typeof s !== "object" || s === null) problems.push("source: missing");
  else if (typeof s.dir === "string") source = { dir: resolve(dir, s.dir) };
  else if (typeof s.tar === "string") source = { tar: resolve(dir, s.tar) };
  else if (typeof s.debian === "object" && s.debian !== null) {
    const d = s.debian as Record<string, unknown>;
    if (!isStrArray(d.packages) || d.packages.length === 0 || !d.packages.every((p) => PKG.test(p)))
      problems.push("source.debian.packages: a non-empty list of package names");
    if (d.exclude !== undefined && !isStrArray(d.exclude))
      problems.push("source.debian.exclude: not a string list");
    source = {
      debian: { packages: d.packages as string[], ...(d.exclude ? { exclude: d.exclude as string[] } : {}) },
    };
  } else problems.push("source: one of {dir}, {tar}, {debian: {packages}}");

  const filesDir = resolve(dir, typeof r.files === "string" ? r.files : "files");
  if (typeof r.files === "string" && !existsSync(filesDir))
    problems.push(`files: ${filesDir} does not exist`);
  if (problems.length > 0 || !source) return { ok: false, error: `${file}: ${problems.join("; ")}` };
  return {
    ok: true,
    value: {
      name: r.name as string,
      description: (r.description as string | undefined) ?? "",
      priority: r.priority as number,
      ...(r.version ? { version: r.version as string } : {}),
      ...(r.versionSuffix ? { versionSuffix: r.versionSuffix as string } : {}),
      ...(r.base ? { base: r.base as string } : {}),
      source,
      ...(existsSync(filesDir) && statSync(filesDir).isDirectory() ? { files: filesDir } : {}),
      dirs: (r.dirs as string[] | undefined) ?? [],
      symlinks: (r.symlinks as Record<string, string> | undefined) ?? {},
      usrLinks: (r.usrLinks as boolean | undefined) ?? false,
      drop: (r.drop as string[] | undefined) ?? [],
      generate: (r.generate as Generator[] | undefined) ?? [],
      services: (r.services as ModuleService[] | undefined) ?? [],
      dir,
    },
  };
}

/** Reads and parses a recipe file; throws the parser's message. */
export function loadRecipe(file: string): ModuleRecipe {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`, { cause: e });
  }
  const r = parseRecipe(json, file);
  if (!r.ok) throw new Error(r.error);
  return r.value;
}

/** The in-tree recipes folder (`<repo>/modules`). */
export const MODULES_DIR = resolve(import.meta.dir, "../../../modules");

/** The in-tree recipe of a module name. */
export function recipePath(name: string, modulesDir = MODULES_DIR): string {
  return join(modulesDir, name, "module.json");
}

/**
 * The buildModule input of a recipe for one arch. `basePackages` = the Debian packages of the base module
 * (from its own resolution for the same arch), required when the recipe names a base.
 */
export function recipeToBuildInput(
  recipe: ModuleRecipe,
  arch: DebArch,
  outDir: string,
  basePackages?: string[],
): BuildModuleInput {
  let source = recipe.source;
  if ("debian" in source && recipe.base) {
    if (!basePackages)
      throw new Error(`module ${recipe.name}: needs the packages of its base ${recipe.base}`);
    source = { debian: { ...source.debian, base: basePackages } };
  }
  return {
    source,
    name: recipe.name,
    ...(recipe.version ? { version: recipe.version } : {}),
    ...(recipe.versionSuffix ? { versionSuffix: recipe.versionSuffix } : {}),
    arch,
    priority: recipe.priority,
    services: recipe.services,
    outDir,
    ...(recipe.files ? { files: recipe.files } : {}),
    dirs: recipe.dirs,
    symlinks: recipe.symlinks,
    usrLinks: recipe.usrLinks,
    drop: recipe.drop,
    generate: recipe.generate,
  };
}
