/**
 * Downloads one assigned module: the OCI manifest by digest (read up to 4 MiB, never buffered past it),
 * its config (the module manifest, checked against the assignment), and the three layers, each
 * resumable, bounded by its descriptor's size and sha256-checked, into
 * `<modulesDir>/<name>/<manifest hex>/`. Files already complete (right size, renamed into place only
 * after their sha256 matched) are not fetched again.
 */

import { mkdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import {
  fetchBlobToFile,
  fetchManifest,
  MODULE_COMPOSEFS_MEDIA_TYPE,
  MODULE_CONFIG_MEDIA_TYPE,
  MODULE_EROFS_BLOB_MEDIA_TYPE,
  MODULE_VERITY_HASHTREE_MEDIA_TYPE,
  type ModuleManifest,
  parseModuleManifest,
} from "@powernode/oci";
import type { ModuleAssignment } from "@powernode/proto";
import { manifestProblems, parseOciReference } from "./assignment.ts";

export interface ModuleFiles {
  dir: string;
  manifest: ModuleManifest;
  metadata: string;
  blob: string;
  verity: string;
}

/** Why a module could not be fetched: `transient` (retry later) or `invalid` (the artifact is wrong). */
export class ModuleFetchError extends Error {
  readonly kind = "module_fetch";
  constructor(
    readonly reason: "transient" | "invalid",
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "ModuleFetchError";
  }
}

interface Desc {
  mediaType: string;
  digest: string;
  size: number;
}

function descriptors(json: unknown): { config?: Desc; layers: Desc[] } {
  const isDesc = (d: unknown): d is Desc =>
    typeof d === "object" &&
    d !== null &&
    typeof (d as Desc).mediaType === "string" &&
    typeof (d as Desc).digest === "string" &&
    typeof (d as Desc).size === "number";
  const m = json as { config?: unknown; layers?: unknown };
  const layers = Array.isArray(m?.layers) ? m.layers.filter(isDesc) : [];
  return isDesc(m?.config) ? { config: m.config, layers } : { layers };
}

export interface FetchModuleOptions {
  assignment: ModuleAssignment;
  /** `/persist/powernode/modules` (disk) or `/run/powernode/modules`. */
  modulesDir: string;
  /** "amd64" | "arm64": the manifest's arch must match. */
  arch: string;
  fetch?: typeof fetch;
  signal?: AbortSignal;
}

/** Fetches (or finds complete on disk) one module's files. Throws {@link ModuleFetchError}. */
export async function fetchModule(o: FetchModuleOptions): Promise<ModuleFiles> {
  const a = o.assignment;
  const ref = parseOciReference(a.ociReference);
  if (!ref.ok) throw new ModuleFetchError("invalid", ref.error);
  const { baseUrl, repository, digest } = ref.value;
  const client = { fetch: o.fetch, signal: o.signal };
  const dir = join(o.modulesDir, a.name, digest.slice("sha256:".length));
  mkdirSync(dir, { recursive: true });
  const transient = (what: string, err: unknown) => {
    const kind = (err as { kind?: unknown })?.kind;
    const msg = err instanceof Error ? err.message : String(err);
    return new ModuleFetchError(
      kind === "digest_mismatch" || kind === "invalid" ? "invalid" : "transient",
      `${what}: ${msg}`,
      { cause: err },
    );
  };
  let manifestJson: unknown;
  try {
    manifestJson = (await fetchManifest(baseUrl, repository, digest, client)).json;
  } catch (err) {
    throw transient(`fetching manifest ${repository}@${digest}`, err);
  }
  const d = descriptors(manifestJson);
  if (d.config?.mediaType !== MODULE_CONFIG_MEDIA_TYPE)
    throw new ModuleFetchError("invalid", `manifest ${digest}: config is not ${MODULE_CONFIG_MEDIA_TYPE}`);
  const layer = (type: string) => {
    const l = d.layers.filter((x) => x.mediaType === type);
    if (l.length !== 1 || !l[0])
      throw new ModuleFetchError("invalid", `manifest ${digest}: ${l.length} layers of type ${type}, need 1`);
    return l[0];
  };
  const wanted = {
    config: d.config,
    metadata: layer(MODULE_COMPOSEFS_MEDIA_TYPE),
    blob: layer(MODULE_EROFS_BLOB_MEDIA_TYPE),
    verity: layer(MODULE_VERITY_HASHTREE_MEDIA_TYPE),
  };
  const files = {
    config: join(dir, "config.json"),
    metadata: join(dir, "metadata.cfs"),
    blob: join(dir, "blob.erofs"),
    verity: join(dir, "blob.verity"),
  };
  for (const k of ["config", "metadata", "blob", "verity"] as const) {
    const want = wanted[k];
    const have = statSync(files[k], { throwIfNoEntry: false });
    if (have?.size === want.size) continue;
    try {
      // The descriptor's size bounds what is written: a longer blob is refused at that size.
      await fetchBlobToFile(baseUrl, repository, want.digest, files[k], { ...client, size: want.size });
    } catch (err) {
      throw transient(`fetching ${k} ${want.digest}`, err);
    }
  }
  let configJson: unknown;
  try {
    configJson = JSON.parse(readFileSync(files.config, "utf8"));
  } catch (err) {
    throw new ModuleFetchError("invalid", `module config ${wanted.config.digest} is not JSON`, {
      cause: err,
    });
  }
  const parsed = parseModuleManifest(configJson);
  if (!parsed.ok) throw new ModuleFetchError("invalid", parsed.error);
  const problems = manifestProblems(parsed.value, a, o.arch);
  if (problems.length > 0)
    throw new ModuleFetchError(
      "invalid",
      `module manifest does not match the assignment: ${problems.join("; ")}`,
    );
  return { dir, manifest: parsed.value, metadata: files.metadata, blob: files.blob, verity: files.verity };
}
