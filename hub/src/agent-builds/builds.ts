/**
 * Agent builds: an operator pushes the binary to the hub registry as `powernode/agent:<version>-<arch>`
 * (one layer, AGENT_BINARY_MEDIA_TYPE; a config naming version, arch, sha256 and size), then registers
 * it. Registration reads the manifest from the hub's own store and refuses anything that does not hold
 * together, so a node is never sent a digest the registry cannot serve.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { AGENT_ARTIFACT_TYPE, AGENT_BINARY_MEDIA_TYPE, AGENT_CONFIG_MEDIA_TYPE } from "@powernode/oci";
import { EVENTS } from "@powernode/proto";
import { and, asc, eq } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { agentBuilds } from "../db/schema/index.ts";
import type { Deps } from "../deps.ts";
import { DomainError } from "../errors.ts";
import { createBlobStore } from "../oci/blob-store.ts";
import { createManifestStore } from "../oci/manifest-store.ts";
import { type Digest, parseDigest } from "../oci/reference.ts";

/** The registry repository every agent build lives in. */
export const AGENT_REPOSITORY = "powernode/agent";

export type AgentArch = "amd64" | "arm64";
export type AgentBuildRow = typeof agentBuilds.$inferSelect;

/**
 * The tag of a build: `<version>-<arch>`, with `+` and `~` (not allowed in OCI tags) as `_`. The tag is
 * only a name for people; the registration records the manifest digest.
 */
export const agentTag = (version: string, arch: AgentArch) => `${version}-${arch}`.replace(/[+~]/g, "_");

const VERSION_RE = /^[A-Za-z0-9][A-Za-z0-9._+~-]{0,127}$/;

/** A version as builds and assignments name it, or invalid_argument naming `field`. */
export function versionField(field: string, v: string): string {
  if (!VERSION_RE.test(v))
    throw new DomainError(
      "invalid_argument",
      `${field}: "${v.slice(0, 40)}" is not a version (1-128 of letters, digits, . _ + ~ -, starting with a letter or digit)`,
    );
  return v;
}

export interface RegisterInput {
  version: string;
  arch: AgentArch;
  manifestDigest: string;
}

interface Parsed {
  sha256: string;
  size: number;
}

const bad = (what: string) => new DomainError("precondition", `manifest_digest: ${what}`);

/** Reads and checks the pushed artifact; returns the binary's sha256 and size. */
async function readArtifact(dataDir: string, i: RegisterInput, digest: Digest): Promise<Parsed> {
  const oci = join(dataDir, "oci");
  const manifests = createManifestStore(oci);
  const blobs = createBlobStore(oci);
  const entry = await manifests.get(AGENT_REPOSITORY, digest);
  if (!entry)
    throw new DomainError(
      "not_found",
      `manifest_digest: ${digest.text} is not in ${AGENT_REPOSITORY} (push it first: pnctl agent publish)`,
    );
  const json = async (d: Digest, what: string): Promise<Record<string, unknown>> => {
    const blob = await blobs.stat(d);
    if (!blob) throw bad(`${what} ${d.text} is missing from the registry`);
    try {
      const v: unknown = JSON.parse(await readFile(blob.path, "utf8"));
      if (typeof v === "object" && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
    } catch {
      // reported below
    }
    throw bad(`${what} ${d.text} is not a JSON object`);
  };
  const m = await json(digest, "manifest");
  if (m.artifactType !== AGENT_ARTIFACT_TYPE)
    throw bad(`artifactType is ${JSON.stringify(m.artifactType)}, not ${AGENT_ARTIFACT_TYPE}`);
  const layers = Array.isArray(m.layers) ? (m.layers as Record<string, unknown>[]) : [];
  const [layer] = layers;
  if (layers.length !== 1 || layer?.mediaType !== AGENT_BINARY_MEDIA_TYPE)
    throw bad(`an agent build has exactly one layer of ${AGENT_BINARY_MEDIA_TYPE}`);
  const cfgDesc = m.config as Record<string, unknown> | undefined;
  if (cfgDesc?.mediaType !== AGENT_CONFIG_MEDIA_TYPE) throw bad(`config is not ${AGENT_CONFIG_MEDIA_TYPE}`);
  const cfgDigest = parseDigest(String(cfgDesc.digest));
  const layerDigest = parseDigest(String(layer.digest));
  if (!cfgDigest.ok || !layerDigest.ok) throw bad("config or layer digest is not sha256:<64 hex>");
  const cfg = await json(cfgDigest.value, "config");
  if (cfg.version !== i.version || cfg.arch !== i.arch)
    throw bad(
      `the build says version ${JSON.stringify(cfg.version)} arch ${JSON.stringify(cfg.arch)}, the request ${i.version} ${i.arch}`,
    );
  if (cfg.sha256 !== layerDigest.value.hex || cfg.size !== layer.size)
    throw bad("the config's sha256/size do not match the binary layer");
  const stored = await blobs.stat(layerDigest.value);
  if (!stored || stored.size !== layer.size)
    throw bad(`the binary ${layerDigest.value.text} is missing or short`);
  return { sha256: layerDigest.value.hex, size: stored.size };
}

/** Registers a pushed build; the same build again is a no-op, another binary under its version a conflict. */
export async function registerBuild(
  deps: Deps,
  i: RegisterInput,
): Promise<{ build: AgentBuildRow; created: boolean }> {
  const digest = parseDigest(i.manifestDigest);
  if (!digest.ok)
    throw new DomainError(
      "invalid_argument",
      `manifest_digest: "${i.manifestDigest.slice(0, 80)}" is not sha256:<64 hex>`,
    );
  const art = await readArtifact(deps.config.dataDir, i, digest.value);
  const [existing] = await buildOf(deps.db, i.version, i.arch);
  if (existing) {
    if (existing.sha256 === art.sha256) return { build: existing, created: false };
    throw new DomainError(
      "already_exists",
      `version: ${i.version} (${i.arch}) is registered with another binary (sha256 ${existing.sha256.slice(0, 12)}…); publish under a new version`,
    );
  }
  const [build] = await deps.db
    .insert(agentBuilds)
    .values({
      version: i.version,
      arch: i.arch,
      sha256: art.sha256,
      size: art.size,
      manifestDigest: digest.value.text,
    })
    .onConflictDoNothing()
    .returning();
  if (!build) return registerBuild(deps, i); // registered concurrently: compare with that one
  await deps.events.emit(EVENTS.agentBuildRegistered, {
    version: build.version,
    arch: build.arch,
    sha256: build.sha256,
    size: build.size,
  });
  return { build, created: true };
}

export function buildOf(db: Pick<Db, "select">, version: string, arch: AgentArch): Promise<AgentBuildRow[]> {
  return db
    .select()
    .from(agentBuilds)
    .where(and(eq(agentBuilds.version, version), eq(agentBuilds.arch, arch)));
}

export function listBuilds(db: Db): Promise<AgentBuildRow[]> {
  return db.select().from(agentBuilds).orderBy(asc(agentBuilds.createdAt), asc(agentBuilds.arch));
}
