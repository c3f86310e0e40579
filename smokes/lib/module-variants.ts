/**
 * A variant of a built module for smokes that need a broken version of it: a copy whose manifest (and
 * so the catalog row) claims a wrong metadata digest, so the registry serves an image that does not
 * hash to what the node is told to expect.
 */
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ModuleManifest } from "@powernode/oci";
import { type BuiltModule, loadBuiltModule } from "../../hub/src/modules/index.ts";

function copyBuild(b: BuiltModule, dir: string, manifest: ModuleManifest): BuiltModule {
  mkdirSync(dir, { recursive: true });
  copyFileSync(b.files.metadata, join(dir, "metadata.cfs"));
  copyFileSync(b.files.blob, join(dir, "blob.erofs"));
  copyFileSync(b.files.verity, join(dir, "blob.verity"));
  writeFileSync(join(dir, "module.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  return loadBuiltModule(dir);
}

/** `b` as version `<its version>.wrongdigest` claiming a metadata digest one hex digit off, in `dir`. */
export function wrongDigestBuild(b: BuiltModule, dir: string): { built: BuiltModule; wrong: string } {
  const m = b.manifest;
  const wrong = `${m.metadataDigest.startsWith("0") ? "1" : "0"}${m.metadataDigest.slice(1)}`;
  return {
    built: copyBuild(b, dir, { ...m, version: `${m.version}.wrongdigest`, metadataDigest: wrong }),
    wrong,
  };
}
