/**
 * The module builder and publisher: Debian packages (or a directory, or a tar) of the target arch -> a
 * module's images and manifest -> the OCI artifact in the hub's registry and its catalog rows.
 */
export {
  type AptIndex,
  compareDebVersions,
  type DebArch,
  type DebPackage,
  loadAptIndex,
  satisfiesRelation,
} from "@powernode/debian";
export { buildAll, inTreeRecipes, sizeTable } from "./build-all.ts";
export {
  type BuildModuleInput,
  type BuiltModule,
  type BuiltModuleFiles,
  buildModule,
  MAINTAINER_SCRIPT_PACKAGES,
  type ModuleSource,
  sha256File,
  toModuleVersion,
} from "./build-module.ts";
export { buildRecipe, builtModuleDir, type RecipeBuildOptions, recipePackages } from "./build-recipe.ts";
export { withComposedRoot } from "./composed-root.ts";
export { buildHubModule, HUB_MODULE_NAME, hubModuleVersion } from "./hub-module/hub-module.ts";
export {
  catalogClient,
  loadBuiltModule,
  moduleTag,
  PublishError,
  type PublishResult,
  type PublishTarget,
  publishModule,
} from "./publish.ts";
export {
  loadRecipe,
  MODULES_DIR,
  type ModuleRecipe,
  parseRecipe,
  recipePath,
  recipeToBuildInput,
} from "./recipe.ts";
export { type Resolution, type ResolveOptions, resolveClosure } from "./resolve.ts";
export { SBOM_ARTIFACT_TYPE, spdxDocument } from "./sbom.ts";
export { sourcePackages } from "./source-packages.ts";
