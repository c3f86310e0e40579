/**
 * publishModule: a built module -> the OCI artifact (repository `modules/<name>`, tag
 * `<version>-<arch>`) in the hub's registry, or in another registry the hub knows (RegistryService)
 * with a copy in the hub's as the nodes' fallback, and its catalog rows (CreateModule when missing,
 * CreateModuleVersion with the digests nodes verify and the registry that holds the artifact). The
 * catalog is checked first: the same build again is a no-op success, a different build under an
 * existing version is refused before anything is pushed (so the tag is never re-pointed at unrecorded
 * content).
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import {
  type ClientOptions,
  createRegistryFetch,
  type Descriptor,
  fetchManifest,
  MODULE_ARTIFACT_TYPE,
  MODULE_COMPOSEFS_MEDIA_TYPE,
  MODULE_CONFIG_MEDIA_TYPE,
  MODULE_EROFS_BLOB_MEDIA_TYPE,
  MODULE_VERITY_HASHTREE_MEDIA_TYPE,
  type ModuleManifest,
  OciClientError,
  parseModuleManifest,
  pushArtifact,
  pushArtifactDescriptor,
  type RegistryCredential,
} from "@powernode/oci";
import { Arch, CatalogService, type ModuleVersion, RegistryService } from "@powernode/proto";
import { type BuiltModule, sha256File } from "./build-module.ts";
import { SBOM_ARTIFACT_TYPE, spdxDocument } from "./sbom.ts";
import { sourcePackages } from "./source-packages.ts";

/** Where to publish. */
export interface PublishTarget {
  /** Base URL of the OCI registry (the hub's own URL once it serves /v2/). */
  registryUrl: string;
  /** Base URL of the hub's Connect API (HTTP listener). */
  hubUrl: string;
  /** The operator (admin) token: registry pushes and catalog writes. */
  token: string;
  /** Description for a newly created catalog module. */
  description?: string;
  /** The push credential of `registryUrl` when it is not the hub (never stored by the hub). */
  registryCredential?: RegistryCredential;
  /** Also push to the hub's registry when `registryUrl` is another one (the nodes' fallback). Default true. */
  hubCopy?: boolean;
  /** The CA (PEM) the hub's HTTPS certificate is checked against (its internal CA); default: system trust. */
  hubCa?: string;
}

/** What publication did. */
export interface PublishResult {
  repository: string;
  tag: string;
  /** OCI manifest digest, "sha256:<hex>". */
  ociDigest: string;
  version: ModuleVersion;
  /** The registry holding it (`host[:port]`), "" for the hub. */
  origin: string;
  /** The hub's registry holds a copy too. */
  hubCopy: boolean;
  /** False when this exact build was already published (nothing changed). */
  created: boolean;
  moduleCreated: boolean;
}

/** A refusal to publish (different content under an existing version, or a damaged build). */
export class PublishError extends Error {
  override name = "PublishError";
}

/** The OCI tag of a module version: `<version>-<arch>` with characters tags cannot hold ("+") as "_". */
export function moduleTag(version: string, arch: string): string {
  return `${version}-${arch}`.replace(/[^A-Za-z0-9._-]/g, "_");
}

/** Reads a build output directory (module.json + images) back, checking the manifest at the edge. */
export function loadBuiltModule(outDir: string): BuiltModule {
  const config = join(outDir, "module.json");
  if (!existsSync(config)) throw new PublishError(`${outDir}: no module.json (not a module build directory)`);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(config, "utf8"));
  } catch (e) {
    throw new PublishError(`${config}: ${(e as Error).message}`, { cause: e });
  }
  const m = parseModuleManifest(json);
  if (!m.ok) throw new PublishError(`${config}: ${m.error}`);
  const files = {
    metadata: join(outDir, "metadata.cfs"),
    blob: join(outDir, "blob.erofs"),
    verity: join(outDir, "blob.verity"),
    config,
  };
  for (const f of [files.metadata, files.blob, files.verity]) {
    if (!existsSync(f)) throw new PublishError(`${outDir}: missing ${f}`);
  }
  return { manifest: m.value, files };
}

/** The operator's Connect client of `service` with the bearer token. */
function operatorClient<T extends typeof CatalogService | typeof RegistryService>(
  service: T,
  hubUrl: string,
  token: string,
  ca?: string,
) {
  const auth: Interceptor = (next) => (req) => {
    req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
  return createClient(
    service,
    createConnectTransport({
      baseUrl: hubUrl,
      httpVersion: "1.1",
      interceptors: [auth],
      ...(ca ? { nodeOptions: { ca } } : {}),
    }),
  );
}

/** fetch that trusts `ca` (the hub's internal CA) for TLS; plain fetch without one. */
export function fetchTrusting(ca: string | undefined): typeof fetch {
  if (!ca) return fetch;
  return ((input: string | URL | Request, init?: RequestInit) =>
    fetch(input, { ...init, tls: { ca } } as RequestInit)) as typeof fetch;
}

/** The Connect client of the catalog with the bearer token. */
export function catalogClient(hubUrl: string, token: string, ca?: string) {
  return operatorClient(CatalogService, hubUrl, token, ca);
}

const protoArch = (a: ModuleManifest["arch"]) => (a === "amd64" ? Arch.AMD64 : Arch.ARM64);

function sameBuild(v: ModuleVersion, m: ModuleManifest): boolean {
  return v.fsverityDigest === m.metadataDigest && v.verityRootHash === m.verityRootHash;
}

function refuse(v: ModuleVersion, m: ModuleManifest): PublishError {
  return new PublishError(
    `${m.name} ${m.version} (${m.arch}) is already published with different content ` +
      `(catalog fsverity_digest ${v.fsverityDigest}, verity_root_hash ${v.verityRootHash}; ` +
      `this build ${m.metadataDigest}, ${m.verityRootHash}); a module version is immutable: ` +
      "publish the change under a new version (bump versionSuffix in the recipe)",
  );
}

/** Publishes a built module; idempotent for the same build. */
export async function publishModule(built: BuiltModule, target: PublishTarget): Promise<PublishResult> {
  const m = built.manifest;
  const catalog = catalogClient(target.hubUrl, target.token, target.hubCa);
  const repository = `modules/${m.name}`;
  const tag = moduleTag(m.version, m.arch);

  // The files must still be what the manifest says (a damaged or edited build dir is refused).
  const [metaSha, blobSha, veritySha] = await Promise.all([
    sha256File(built.files.metadata),
    sha256File(built.files.blob),
    sha256File(built.files.verity),
  ]);
  const bad = [
    metaSha !== m.sha256.metadata && "metadata",
    blobSha !== m.sha256.blob && "blob",
    veritySha !== m.sha256.verity && "verity",
  ].filter(Boolean);
  if (bad.length > 0)
    throw new PublishError(`${m.name}: ${bad.join(", ")} file(s) do not match module.json sha256`);

  // Another registry than the hub's: it must be known to the hub (nodes are sent its node URL).
  const hubOrigin = new URL(target.hubUrl).origin;
  const registryOrigin = new URL(target.registryUrl).origin;
  const origin = registryOrigin === hubOrigin ? "" : new URL(target.registryUrl).host;
  const hubCopy = origin === "" || target.hubCopy !== false;
  if (origin !== "") {
    const known = await operatorClient(
      RegistryService,
      target.hubUrl,
      target.token,
      target.hubCa,
    ).listRegistries({});
    if (!known.registries.some((r) => r.host === origin))
      throw new PublishError(
        `${origin}: not a registry the hub knows; add it first (pnctl registry add ${registryOrigin} ...) so nodes can be sent it`,
      );
  }
  const to = (url: string): ClientOptions =>
    new URL(url).origin === hubOrigin
      ? { token: target.token, fetch: fetchTrusting(target.hubCa) }
      : { fetch: createRegistryFetch({ credential: () => target.registryCredential }) };

  let moduleCreated = false;
  let existing: ModuleVersion | undefined;
  try {
    const got = await catalog.getModule({ name: m.name });
    existing = got.versions.find((v) => v.version === m.version && v.arch === protoArch(m.arch));
  } catch (e) {
    if (ConnectError.from(e).code !== Code.NotFound) throw e;
    try {
      await catalog.createModule({
        name: m.name,
        description: target.description ?? "",
        priority: m.priority,
      });
      moduleCreated = true;
    } catch (e2) {
      if (ConnectError.from(e2).code !== Code.AlreadyExists) throw e2; // created concurrently: fine
    }
  }
  if (existing && !sameBuild(existing, m)) throw refuse(existing, m);
  if (existing && existing.ociDigest !== "" && existing.origin !== origin)
    throw new PublishError(
      `${m.name} ${m.version} (${m.arch}) is published in ${existing.origin || "the hub's registry"} already; ` +
        "a version lives in one registry (publish a new version to move it)",
    );
  const configBytes = readFileSync(built.files.config);
  const result = (ociDigest: string, version: ModuleVersion, created: boolean): PublishResult => ({
    repository,
    tag,
    ociDigest,
    version,
    origin,
    hubCopy,
    created,
    moduleCreated,
  });
  if (existing?.ociDigest) {
    // Same images: a true no-op when the registry still holds the recorded manifest with this config.
    const recorded = await fetchManifest(
      target.registryUrl,
      repository,
      existing.ociDigest,
      to(target.registryUrl),
    ).catch((e) => {
      if (e instanceof OciClientError && e.details.status === 404) return undefined; // re-push below
      throw e;
    });
    if (recorded) {
      const cfg = (recorded.json as { config?: { digest?: string } }).config?.digest;
      const ours = `sha256:${new Bun.CryptoHasher("sha256").update(configBytes).digest("hex")}`;
      if (cfg !== ours) {
        throw new PublishError(
          `${m.name} ${m.version} (${m.arch}): same images but a different module.json than the published ` +
            `one (config ${cfg}, this build ${ours}: services, priority or source changed); publish under a new version`,
        );
      }
      if (!hubCopy || origin === "") return result(existing.ociDigest, existing, false);
    }
  }

  // The module artifact, then its SBOM as a referrer (subject: the module manifest).
  const push = async (url: string) => {
    const pushed = await pushModuleArtifact(built, url, repository, tag, configBytes, to(url));
    await pushSbom(built.manifest, url, repository, pushed, to(url));
    return pushed.digest;
  };
  const ociDigest = await push(target.registryUrl);
  if (origin !== "" && hubCopy) {
    const copy = await push(target.hubUrl);
    if (copy !== ociDigest)
      throw new PublishError(
        `the hub stored the copy as ${copy}, ${origin} as ${ociDigest}: the manifests differ`,
      );
  }

  if (existing) {
    if (existing.ociDigest !== "" && existing.ociDigest !== ociDigest) {
      throw new PublishError(
        `${m.name} ${m.version} (${m.arch}): same images but the catalog records OCI manifest ${existing.ociDigest}, ` +
          `this push gave ${ociDigest} (module.json differs: services, priority or source)`,
      );
    }
    return result(ociDigest, existing, false);
  }
  try {
    const r = await catalog.createModuleVersion({
      moduleName: m.name,
      version: m.version,
      arch: protoArch(m.arch),
      fsverityDigest: m.metadataDigest,
      verityRootHash: m.verityRootHash,
      ociDigest,
      metadataSize: BigInt(m.sizes.metadata),
      blobSize: BigInt(m.sizes.blob),
      origin,
      packages: sourcePackages(m.source),
    });
    if (!r.version) throw new Error("CreateModuleVersion returned no version");
    return result(ociDigest, r.version, true);
  } catch (e) {
    if (ConnectError.from(e).code !== Code.AlreadyExists) throw e;
    // Published concurrently: the same build is fine, another one is refused.
    const got = await catalog.getModule({ name: m.name });
    const v = got.versions.find((x) => x.version === m.version && x.arch === protoArch(m.arch));
    if (!v) throw e;
    if (!sameBuild(v, m)) throw refuse(v, m);
    return result(ociDigest, v, false);
  }
}

/** Pushes the module's OCI artifact (config, three layers, annotations) to one registry; its digest. */
/** Pushes the SPDX SBOM of `m` as a referrer of manifest `subject` (by digest, untagged). */
async function pushSbom(
  m: ModuleManifest,
  baseUrl: string,
  repository: string,
  subject: Descriptor,
  opts: ClientOptions,
): Promise<string> {
  const now = new Date();
  const sbom = new TextEncoder().encode(JSON.stringify(spdxDocument(m, subject.digest, now)));
  return pushArtifact(
    baseUrl,
    repository,
    "",
    {
      artifactType: SBOM_ARTIFACT_TYPE,
      layers: [
        {
          mediaType: SBOM_ARTIFACT_TYPE,
          bytes: sbom,
          annotations: { "org.opencontainers.image.title": `${m.name}-${m.version}-${m.arch}.spdx.json` },
        },
      ],
      subject,
      annotations: { "org.opencontainers.image.created": now.toISOString() },
    },
    opts,
  );
}

function pushModuleArtifact(
  built: BuiltModule,
  baseUrl: string,
  repository: string,
  tag: string,
  configBytes: Uint8Array,
  opts: ClientOptions,
): Promise<Descriptor> {
  const m = built.manifest;
  return pushArtifactDescriptor(
    baseUrl,
    repository,
    tag,
    {
      artifactType: MODULE_ARTIFACT_TYPE,
      config: { mediaType: MODULE_CONFIG_MEDIA_TYPE, bytes: configBytes },
      layers: [
        {
          mediaType: MODULE_COMPOSEFS_MEDIA_TYPE,
          path: built.files.metadata,
          annotations: { "org.opencontainers.image.title": "metadata.cfs" },
        },
        {
          mediaType: MODULE_EROFS_BLOB_MEDIA_TYPE,
          path: built.files.blob,
          annotations: { "org.opencontainers.image.title": "blob.erofs" },
        },
        {
          mediaType: MODULE_VERITY_HASHTREE_MEDIA_TYPE,
          path: built.files.verity,
          annotations: { "org.opencontainers.image.title": "blob.verity" },
        },
      ],
      annotations: {
        "org.opencontainers.image.title": m.name,
        "org.opencontainers.image.version": m.version,
        "com.powernode.module.arch": m.arch,
        "com.powernode.module.metadata-digest": m.metadataDigest,
        "com.powernode.module.verity-root-hash": m.verityRootHash,
      },
    },
    opts,
  );
}
