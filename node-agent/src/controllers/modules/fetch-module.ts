/**
 * Downloads one assigned module: the OCI manifest by digest (read up to 4 MiB, never buffered past it),
 * its config (the module manifest, checked against the assignment), and the three layers, each
 * resumable, bounded by its descriptor's size and sha256-checked, into
 * `<modulesDir>/<name>/<manifest hex>/`. Files already complete (right size, renamed into place only
 * after their sha256 matched) are not fetched again.
 *
 * The assignment's pull locations (mirrors, origin, the hub) are tried in order until one serves the
 * whole artifact; a part fetched from one location is resumed from the next (every byte is checked by
 * digest wherever it comes from). Registries that challenge get the node's pull credential from the
 * hub (`pullCredential`), through the distribution auth flow (lib/oci createRegistryFetch).
 */

import { mkdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import {
  createRegistryFetch,
  fetchBlobToFile,
  fetchManifest,
  MODULE_COMPOSEFS_MEDIA_TYPE,
  MODULE_CONFIG_MEDIA_TYPE,
  MODULE_EROFS_BLOB_MEDIA_TYPE,
  MODULE_VERITY_HASHTREE_MEDIA_TYPE,
  type ModuleManifest,
  parseModuleManifest,
  type RegistryCredential,
} from "@powernode/oci";
import type { ModuleAssignment } from "@powernode/proto";
import { manifestProblems, pullLocationsOf } from "./assignment.ts";

export interface ModuleFiles {
  dir: string;
  manifest: ModuleManifest;
  metadata: string;
  blob: string;
  verity: string;
  /** The location that served the artifact, and what the ones tried before it answered. */
  source?: { role: string; reference: string; skipped: string[] };
}

/**
 * Why a module could not be fetched: `transient` (retry soon), `denied` (a registry refused the
 * credential: retried on the slow tick, the operator may fix it in the hub), `missing` (every location
 * answered 404 for the digest: retried only when the assignment changes) or `invalid` (the artifact is
 * wrong).
 */
export class ModuleFetchError extends Error {
  readonly kind = "module_fetch";
  constructor(
    readonly reason: "transient" | "invalid" | "denied" | "missing",
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
  /** The fetch for the hub's own registry (trusts the hub CA). */
  fetch?: typeof fetch;
  /** A fetch for another registry's location (its CA bundle, when the location names one). */
  registryFetch?: (caPem: string) => typeof fetch;
  /** The node's pull credential for `host`/`repository`, asked for when a registry challenges. */
  pullCredential?: (host: string, repository: string) => Promise<RegistryCredential | undefined>;
  signal?: AbortSignal;
}

/** What one location's failure means (see {@link ModuleFetchError}). */
export function classify(err: unknown): ModuleFetchError["reason"] {
  if (err instanceof ModuleFetchError) return err.reason;
  const e = err as { kind?: unknown; details?: { status?: unknown } };
  if (e?.kind === "digest_mismatch" || e?.kind === "invalid") return "invalid";
  const status = e?.details?.status;
  if (status === 404) return "missing";
  if (status === 401 || status === 403) return "denied";
  return "transient";
}

/** The worst outcome of all locations, for the module's state: one transient failure means try again soon. */
function overall(reasons: ModuleFetchError["reason"][]): ModuleFetchError["reason"] {
  for (const r of ["transient", "denied", "invalid"] as const) if (reasons.includes(r)) return r;
  return "missing";
}

/** Fetches (or finds complete on disk) one module's files. Throws {@link ModuleFetchError}. */
export async function fetchModule(o: FetchModuleOptions): Promise<ModuleFiles> {
  const a = o.assignment;
  const locations = pullLocationsOf(a);
  if (!locations.ok) throw new ModuleFetchError("invalid", locations.error);
  const skipped: string[] = [];
  const reasons: ModuleFetchError["reason"][] = [];
  let only: unknown;
  for (const loc of locations.value) {
    const { baseUrl, repository } = loc.ref;
    const where = `${loc.role} ${baseUrl}`;
    const credential = o.pullCredential;
    const f =
      loc.credentialHost === ""
        ? o.fetch
        : createRegistryFetch({
            fetch: o.registryFetch?.(loc.caPem) ?? fetch,
            credential: credential ? () => credential(loc.credentialHost, repository) : undefined,
          });
    try {
      const files = await fetchFrom(o, loc.ref, f);
      return { ...files, source: { role: loc.role, reference: `${baseUrl}/${repository}`, skipped } };
    } catch (err) {
      only = err;
      reasons.push(classify(err));
      skipped.push(`${where}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  // A hub that sends no locations (only oci_reference): the error as it was.
  if (a.locations.length === 0 && only instanceof ModuleFetchError) throw only;
  throw new ModuleFetchError(overall(reasons), `no location served it: ${skipped.join("; ")}`);
}

async function fetchFrom(
  o: FetchModuleOptions,
  ref: { baseUrl: string; repository: string; digest: string },
  f: typeof fetch | undefined,
): Promise<Omit<ModuleFiles, "source">> {
  const a = o.assignment;
  const { baseUrl, repository, digest } = ref;
  const client = { fetch: f, signal: o.signal };
  const dir = join(o.modulesDir, a.name, digest.slice("sha256:".length));
  mkdirSync(dir, { recursive: true });
  const transient = (what: string, err: unknown) => {
    const msg = err instanceof Error ? err.message : String(err);
    return new ModuleFetchError(classify(err), msg.startsWith(what) ? msg : `${what}: ${msg}`, {
      cause: err,
    });
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
