/**
 * Building in-tree recipes: a recipe with a base module is resolved against the base's package closure for
 * the same arch (computed from the base's recipe and the same apt lists), so e.g. nginx-light does not
 * ship libc6 again.
 */
import { join } from "node:path";
import { type DebArch, loadAptIndex } from "@powernode/debian";
import { createExec, type Exec } from "@powernode/exec";
import { type BuiltModule, buildModule, MAINTAINER_SCRIPT_PACKAGES } from "./build-module.ts";
import { loadRecipe, MODULES_DIR, type ModuleRecipe, recipePath, recipeToBuildInput } from "./recipe.ts";
import { resolveClosure } from "./resolve.ts";

/** Options for {@link buildRecipe} and {@link recipePackages}. */
export interface RecipeBuildOptions {
  modulesDir?: string;
  /** Download and apt-index cache root; default the per-user cache (see BuildModuleInput.cacheDir). */
  cacheDir?: string;
  exec?: Exec;
}

/** The Debian packages a recipe's module ships for `arch` (its closure minus its own base's). */
export async function recipePackages(
  recipe: ModuleRecipe,
  arch: DebArch,
  opts: RecipeBuildOptions = {},
  seen: string[] = [],
): Promise<string[]> {
  if (!("debian" in recipe.source)) return [];
  if (seen.includes(recipe.name))
    throw new Error(`recipes: base cycle ${[...seen, recipe.name].join(" -> ")}`);
  const exec = opts.exec ?? createExec();
  const base = recipe.base ? await basePackages(recipe.base, arch, opts, [...seen, recipe.name]) : undefined;
  const index = await loadAptIndex(exec, arch, opts.cacheDir ? { cacheDir: opts.cacheDir } : {});
  const res = resolveClosure(index, recipe.source.debian.packages, {
    ...(base ? { base } : {}),
    exclude: [...MAINTAINER_SCRIPT_PACKAGES, ...(recipe.source.debian.exclude ?? [])],
  });
  return [...(base ?? []), ...res.packages.map((p) => p.name)];
}

async function basePackages(
  name: string,
  arch: DebArch,
  opts: RecipeBuildOptions,
  seen: string[],
): Promise<string[]> {
  const recipe = loadRecipe(recipePath(name, opts.modulesDir ?? MODULES_DIR));
  return recipePackages(recipe, arch, opts, seen);
}

/** Builds one recipe for one arch into `outDir`. */
export async function buildRecipe(
  recipe: ModuleRecipe,
  arch: DebArch,
  outDir: string,
  opts: RecipeBuildOptions = {},
): Promise<BuiltModule> {
  const base = recipe.base ? await basePackages(recipe.base, arch, opts, [recipe.name]) : undefined;
  const input = recipeToBuildInput(recipe, arch, outDir, base);
  return buildModule({
    ...input,
    ...(opts.cacheDir ? { cacheDir: opts.cacheDir } : {}),
    ...(opts.exec ? { exec: opts.exec } : {}),
  });
}

/** Where build-all puts a module: `<out>/<name>-<arch>`. */
export function builtModuleDir(outRoot: string, name: string, arch: DebArch): string {
  return join(outRoot, `${name}-${arch}`);
}
