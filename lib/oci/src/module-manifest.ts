/**
 * The module manifest: the config blob of a module's OCI artifact
 * (`application/vnd.powernode.module.config.v1+json`). The publisher writes it; the node agent parses it
 * at the edge (it is untrusted until its digest matches the manifest the hub assigned).
 */

/** A long-running process the module provides; the agent supervises it inside the composed root. */
export interface ModuleService {
  /** [a-z0-9-], unique within the module. */
  name: string;
  /** argv, absolute program path inside the composed root. */
  exec: string[];
  env?: Record<string, string>;
  /** Default "always". */
  restart?: "always" | "on-failure" | "never";
}

export interface ModuleManifest {
  schemaVersion: 1;
  name: string;
  version: string;
  arch: "amd64" | "arm64";
  /** Higher wins in the root overlay. */
  priority: number;
  services: ModuleService[];
  /** fs-verity sha256 of the composefs metadata image, 64 hex. */
  metadataDigest: string;
  /** dm-verity root hash of the blob image, 64 hex. */
  verityRootHash: string;
  /** dm-verity salt, hex. */
  veritySalt: string;
  /** Data blocks of the blob image (4096 bytes each) covered by the hash tree. */
  verityDataBlocks: number;
  sizes: { metadata: number; blob: number; verity: number };
  /** sha256 of each layer file, hex (as in the OCI descriptors). */
  sha256: { metadata: string; blob: string; verity: string };
  /** Where the module came from (Debian packages and versions, a directory, a tar). */
  source: Record<string, string>;
}

export type ManifestParse = { ok: true; value: ModuleManifest } | { ok: false; error: string };

const HEX64 = /^[0-9a-f]{64}$/;
const NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Validates untrusted JSON; the error names every bad field. */
export function parseModuleManifest(input: unknown): ManifestParse {
  const problems: string[] = [];
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    return { ok: false, error: "module manifest: not a JSON object" };
  }
  const m = input as Record<string, unknown>;
  const str = (k: string, re?: RegExp) => {
    const v = m[k];
    if (typeof v !== "string" || v === "" || (re && !re.test(v)))
      problems.push(`${k}: invalid (${JSON.stringify(v)})`);
    return v as string;
  };
  const num = (k: string, v: unknown = m[k]) => {
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0)
      problems.push(`${k}: not a non-negative integer`);
    return v as number;
  };
  if (m.schemaVersion !== 1)
    problems.push(`schemaVersion: must be 1, got ${JSON.stringify(m.schemaVersion)}`);
  str("name", NAME);
  str("version", /^[A-Za-z0-9][A-Za-z0-9.+~_-]{0,127}$/);
  if (m.arch !== "amd64" && m.arch !== "arm64") problems.push(`arch: must be amd64 or arm64`);
  if (typeof m.priority !== "number" || !Number.isInteger(m.priority))
    problems.push("priority: not an integer");
  str("metadataDigest", HEX64);
  str("verityRootHash", HEX64);
  str("veritySalt", /^([0-9a-f]{2}){0,256}$/);
  num("verityDataBlocks");
  for (const group of ["sizes", "sha256"] as const) {
    const g = m[group];
    if (typeof g !== "object" || g === null) {
      problems.push(`${group}: missing`);
      continue;
    }
    for (const k of ["metadata", "blob", "verity"]) {
      const v = (g as Record<string, unknown>)[k];
      if (group === "sizes") num(`sizes.${k}`, v);
      else if (typeof v !== "string" || !HEX64.test(v)) problems.push(`sha256.${k}: not 64 hex`);
    }
  }
  if (!Array.isArray(m.services)) problems.push("services: not an array");
  else
    m.services.forEach((s: unknown, i: number) => {
      const svc = s as Record<string, unknown>;
      if (typeof svc?.name !== "string" || !NAME.test(svc.name))
        problems.push(`services[${i}].name: invalid`);
      if (!Array.isArray(svc?.exec) || svc.exec.length === 0 || !svc.exec.every((a) => typeof a === "string"))
        problems.push(`services[${i}].exec: must be a non-empty string array`);
      else if (!(svc.exec[0] as string).startsWith("/"))
        problems.push(`services[${i}].exec[0]: must be an absolute path`);
      if (svc?.restart !== undefined && !["always", "on-failure", "never"].includes(svc.restart as string))
        problems.push(`services[${i}].restart: must be always, on-failure or never`);
    });
  if (typeof m.source !== "object" || m.source === null) problems.push("source: missing");
  return problems.length > 0
    ? { ok: false, error: `module manifest: ${problems.join("; ")}` }
    : { ok: true, value: m as unknown as ModuleManifest };
}
