/**
 * `bun hub/src/modules/build-all.ts [--arch amd64,arm64] [--out modules/.out] [--only name,...]`: builds
 * every in-tree recipe (modules/<name>/module.json) for each arch and prints the size table.
 */
import { readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import type { DebArch } from "@powernode/debian";
import type { BuiltModule } from "./build-module.ts";
import { buildRecipe, builtModuleDir } from "./build-recipe.ts";
import { loadRecipe, MODULES_DIR, recipePath } from "./recipe.ts";

/** The recipes in the modules folder, base modules first. */
export function inTreeRecipes(modulesDir = MODULES_DIR): string[] {
  const names = readdirSync(modulesDir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && !d.name.startsWith("."))
    .map((d) => d.name)
    .sort();
  return names.sort((a, b) => Number(b === "system-base") - Number(a === "system-base"));
}

/** Builds `names` for `arches` under `outRoot`; returns the built modules in build order. */
export async function buildAll(
  names: readonly string[],
  arches: readonly DebArch[],
  outRoot: string,
  log: (line: string) => void = () => {},
): Promise<BuiltModule[]> {
  const built: BuiltModule[] = [];
  for (const arch of arches) {
    for (const name of names) {
      const t0 = performance.now();
      const b = await buildRecipe(loadRecipe(recipePath(name)), arch, builtModuleDir(outRoot, name, arch));
      log(`built ${name} ${b.manifest.version} ${arch} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      built.push(b);
    }
  }
  return built;
}

/** The size table (markdown) of built modules. */
export function sizeTable(built: readonly BuiltModule[]): string[] {
  const kib = (n: number) => `${(n / 1024).toFixed(0)} KiB`;
  return [
    "| module | version | arch | metadata image | blob image | hash tree |",
    "| --- | --- | --- | ---: | ---: | ---: |",
    ...built.map(
      ({ manifest: m }) =>
        `| ${m.name} | ${m.version} | ${m.arch} | ${kib(m.sizes.metadata)} | ${kib(m.sizes.blob)} | ${kib(m.sizes.verity)} |`,
    ),
  ];
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      arch: { type: "string", default: "amd64,arm64" },
      out: { type: "string", default: join(MODULES_DIR, ".out") },
      only: { type: "string" },
    },
  });
  const arches = (values.arch ?? "").split(",").filter((a) => a !== "");
  for (const a of arches) {
    if (a !== "amd64" && a !== "arm64") {
      console.error(`build-all: --arch: "${a}" is not amd64 or arm64`);
      process.exit(2);
    }
  }
  const names = values.only ? values.only.split(",") : inTreeRecipes();
  try {
    const built = await buildAll(names, arches as DebArch[], resolve(values.out ?? ""), (l) =>
      console.log(l),
    );
    for (const l of sizeTable(built)) console.log(l);
  } catch (e) {
    console.error(`build-all: ${(e as Error).message}`);
    process.exit(1);
  }
}
