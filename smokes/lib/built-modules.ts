/**
 * In-tree modules for a smoke: built (or reused from `modules/.out`) for the node's arch, and published
 * to a smoke hub's registry.
 */
import { join } from "node:path";
import {
  type BuiltModule,
  buildRecipe,
  builtModuleDir,
  loadRecipe,
  MODULES_DIR,
  publishModule,
  recipePath,
} from "../../hub/src/modules/index.ts";
import type { SmokeHub } from "./hub.ts";
import type { PassContext } from "./pass.ts";

/** Builds (or reuses) the recipes `names` for `arch`, as one step of the pass. */
export function buildModules(
  t: PassContext,
  arch: "amd64" | "arm64",
  names: readonly string[],
): Promise<BuiltModule[]> {
  return t.step(`build (or reuse) ${names.join(" and ")} for ${arch}`, async () => {
    const out: BuiltModule[] = [];
    for (const name of names)
      out.push(
        await buildRecipe(
          loadRecipe(recipePath(name)),
          arch,
          builtModuleDir(join(MODULES_DIR, ".out"), name, arch),
        ),
      );
    return out;
  });
}

/** Publishes built modules to the hub's registry (and catalog) with its admin token. */
export async function publishModules(s: SmokeHub, built: readonly BuiltModule[]): Promise<void> {
  for (const b of built)
    await publishModule(b, { registryUrl: s.hub.httpUrl, hubUrl: s.hub.httpUrl, token: s.hub.adminToken });
}
