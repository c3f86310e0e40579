/**
 * Module assignments from the hub, checked at the edge: the OCI reference
 * (`<registry base URL>/<repository>@sha256:<manifest digest>`), the digests, and the module manifest
 * (config blob) against the assignment that named it.
 */
import type { ModuleManifest } from "@powernode/oci";
import type { ModuleAssignment } from "@powernode/proto";

export interface OciReference {
  /** scheme://host[:port] */
  baseUrl: string;
  repository: string;
  /** sha256:<64 hex> */
  digest: string;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

const HEX64 = /^[0-9a-f]{64}$/;
const NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const REPO = /^[a-z0-9]+([._-][a-z0-9]+)*(\/[a-z0-9]+([._-][a-z0-9]+)*)*$/;

/** `http://10.0.2.2:8080/modules/web@sha256:<hex>` -> base URL, repository, digest. */
export function parseOciReference(ref: string): Parsed<OciReference> {
  const at = ref.lastIndexOf("@");
  if (at < 0) return { ok: false, error: `oci_reference ${JSON.stringify(ref)}: no @sha256: digest` };
  const digest = ref.slice(at + 1);
  if (!/^sha256:[0-9a-f]{64}$/.test(digest))
    return { ok: false, error: `oci_reference: digest ${JSON.stringify(digest)} is not sha256:<64 hex>` };
  let url: URL;
  try {
    url = new URL(ref.slice(0, at));
  } catch {
    return { ok: false, error: `oci_reference ${JSON.stringify(ref)}: not a URL` };
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    return { ok: false, error: `oci_reference: scheme ${url.protocol} (http or https)` };
  const repository = url.pathname.replace(/^\/+/, "");
  if (!REPO.test(repository) || url.search !== "" || url.hash !== "")
    return { ok: false, error: `oci_reference: repository ${JSON.stringify(repository)} is not valid` };
  return { ok: true, value: { baseUrl: url.origin, repository, digest } };
}

/** One place to pull an assignment's artifact from, checked. */
export interface CheckedLocation {
  ref: OciReference;
  role: string;
  credentialHost: string;
  caPem: string;
}

const MAX_LOCATIONS = 16;

/**
 * The assignment's pull locations in order, each reference checked; an assignment from a hub that sends
 * none is pulled from its `oci_reference` (the hub). Every location must name the same digest.
 */
export function pullLocationsOf(a: ModuleAssignment): Parsed<CheckedLocation[]> {
  const given =
    a.locations.length > 0
      ? a.locations
      : [{ ociReference: a.ociReference, role: "hub", credentialHost: "", caPem: "" }];
  if (given.length > MAX_LOCATIONS) return { ok: false, error: `locations: more than ${MAX_LOCATIONS}` };
  const out: CheckedLocation[] = [];
  for (const [i, l] of given.entries()) {
    const r = parseOciReference(l.ociReference);
    if (!r.ok) return { ok: false, error: a.locations.length > 0 ? `locations[${i}].${r.error}` : r.error };
    if (out[0] && r.value.digest !== out[0].ref.digest)
      return {
        ok: false,
        error: `locations[${i}]: digest ${r.value.digest}, locations[0] names ${out[0].ref.digest}`,
      };
    out.push({ ref: r.value, role: l.role || "hub", credentialHost: l.credentialHost, caPem: l.caPem });
  }
  return { ok: true, value: out };
}

/** Every problem of one assignment (empty when it is usable). */
export function assignmentProblems(a: ModuleAssignment): string[] {
  const p: string[] = [];
  if (!NAME.test(a.name)) p.push(`name ${JSON.stringify(a.name)} is not [a-z0-9-]`);
  if (a.version === "") p.push("version is empty");
  if (!HEX64.test(a.metadataDigest)) p.push("metadata_digest is not 64 hex");
  if (!HEX64.test(a.verityRootHash)) p.push("verity_root_hash is not 64 hex");
  const r = pullLocationsOf(a);
  if (!r.ok) p.push(r.error);
  const env = Object.entries(a.env ?? {});
  if (env.length > MAX_ENV) p.push(`env: more than ${MAX_ENV} variables`);
  for (const [k, v] of env) {
    if (!ENV_NAME.test(k)) p.push(`env: ${JSON.stringify(k.slice(0, 64))} is not a variable name`);
    else if (Buffer.byteLength(v) > MAX_ENV_VALUE || v.includes("\0"))
      p.push(`env.${k}: longer than ${MAX_ENV_VALUE} bytes or holds NUL`);
  }
  return p;
}

const ENV_NAME = /^[A-Z_][A-Z0-9_]{0,127}$/;
const MAX_ENV = 64;
const MAX_ENV_VALUE = 4096;

/**
 * What a set of assignments composes: the modules (by {@link moduleKey}) and each one's service
 * environment. Two sets with the same key need nothing done; a changed environment restarts services.
 */
export function setKeyOf(assignments: readonly ModuleAssignment[]): string {
  return assignments
    .map((a) => {
      const env = Object.entries(a.env ?? {}).sort(([x], [y]) => (x < y ? -1 : 1));
      return env.length > 0 ? `${moduleKey(a)}${JSON.stringify(env)}` : moduleKey(a);
    })
    .join(",");
}

/** The module manifest must describe what the hub assigned: same name and version, same digests. */
export function manifestProblems(m: ModuleManifest, a: ModuleAssignment, arch: string): string[] {
  const p: string[] = [];
  if (m.name !== a.name) p.push(`manifest name ${m.name}, assignment ${a.name}`);
  if (m.version !== a.version) p.push(`manifest version ${m.version}, assignment ${a.version}`);
  if (m.metadataDigest !== a.metadataDigest)
    p.push(`manifest metadataDigest ${m.metadataDigest}, assignment ${a.metadataDigest}`);
  if (m.verityRootHash !== a.verityRootHash)
    p.push(`manifest verityRootHash ${m.verityRootHash}, assignment ${a.verityRootHash}`);
  if (m.arch !== arch) p.push(`manifest arch ${m.arch}, node ${arch}`);
  return p;
}

/** Identity of one mounted module instance: the same key means the same bytes. */
export function moduleKey(a: Pick<ModuleAssignment, "name" | "metadataDigest" | "verityRootHash">): string {
  return `${a.name}@${a.metadataDigest.slice(0, 16)}.${a.verityRootHash.slice(0, 16)}`;
}

/** Highest priority first; ties by name, so the order is stable. */
export function byPriority<T extends { priority: number; name: string }>(xs: readonly T[]): T[] {
  return [...xs].sort((a, b) => b.priority - a.priority || a.name.localeCompare(b.name));
}

/** The overlay options of a composed root: metadata layers in priority order, then `::` data-only blobs. */
export function overlayOptions(o: {
  metadataDirs: readonly string[];
  dataDirs: readonly string[];
  upperDir: string;
  workDir: string;
}): string {
  const bad = [...o.metadataDirs, ...o.dataDirs, o.upperDir, o.workDir].find((d) => /[:,\\]/.test(d));
  if (bad !== undefined) throw new RangeError(`overlay path ${JSON.stringify(bad)} holds : , or \\`);
  if (o.metadataDirs.length === 0) throw new RangeError("overlay: no metadata layer");
  const lower = [o.metadataDirs.join(":"), ...o.dataDirs].join("::");
  return `lowerdir=${lower},upperdir=${o.upperDir},workdir=${o.workDir},metacopy=on,redirect_dir=on`;
}
