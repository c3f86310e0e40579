/**
 * A fake OCI registry for agent tests (the agent may not import the hub's registry): a Bun.serve on
 * port 0 answering `GET /v2/<repo>/manifests/<digest>` and `GET /v2/<repo>/blobs/<digest>` (with
 * Range) from what the test put in it, over TLS when given a certificate. Every request is recorded;
 * `intercept` answers one path the test's own way (a hostile registry).
 */
import {
  MODULE_ARTIFACT_TYPE,
  MODULE_COMPOSEFS_MEDIA_TYPE,
  MODULE_CONFIG_MEDIA_TYPE,
  MODULE_EROFS_BLOB_MEDIA_TYPE,
  MODULE_VERITY_HASHTREE_MEDIA_TYPE,
  type ModuleManifest,
} from "@powernode/oci";

const sha256 = (b: Uint8Array) => `sha256:${new Bun.CryptoHasher("sha256").update(b).digest("hex")}`;

export interface OciRegistryFake {
  baseUrl: string;
  /** Request lines seen: "GET /v2/... range=bytes=5-". */
  requests: string[];
  putBlob(repo: string, bytes: Uint8Array): string;
  putManifest(repo: string, json: unknown): string;
  /** Replaces stored bytes of a blob (serves a corrupted blob under its old digest). */
  corruptBlob(repo: string, digest: string): void;
  /** Answers requests for `pathname` with `respond` instead. */
  intercept(pathname: string, respond: (req: Request) => Response): void;
  stop(): Promise<void>;
}

export function startOciRegistryFake(
  opts: { tls?: { certPem: string; keyPem: string } } = {},
): OciRegistryFake {
  const blobs = new Map<string, Uint8Array>();
  const manifests = new Map<string, Uint8Array>();
  const intercepts = new Map<string, (req: Request) => Response>();
  const requests: string[] = [];
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    ...(opts.tls ? { tls: { cert: opts.tls.certPem, key: opts.tls.keyPem } } : {}),
    fetch(req) {
      const url = new URL(req.url);
      const range = req.headers.get("range");
      requests.push(`${req.method} ${url.pathname}${range ? ` range=${range}` : ""}`);
      const intercept = intercepts.get(url.pathname);
      if (intercept) return intercept(req);
      const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(url.pathname);
      if (!m) return new Response("not found", { status: 404 });
      const key = `${m[1]}@${m[3]}`;
      if (m[2] === "manifests") {
        const b = manifests.get(key);
        if (!b)
          return Response.json({ errors: [{ code: "MANIFEST_UNKNOWN", message: key }] }, { status: 404 });
        return new Response(b, {
          headers: {
            "content-type": "application/vnd.oci.image.manifest.v1+json",
            "docker-content-digest": m[3] ?? "",
          },
        });
      }
      const b = blobs.get(key);
      if (!b) return Response.json({ errors: [{ code: "BLOB_UNKNOWN", message: key }] }, { status: 404 });
      const r = range ? /^bytes=(\d+)-$/.exec(range) : null;
      if (r) {
        const start = Number(r[1]);
        if (start >= b.length) return new Response(null, { status: 416 });
        return new Response(b.subarray(start), {
          status: 206,
          headers: { "content-range": `bytes ${start}-${b.length - 1}/${b.length}` },
        });
      }
      return new Response(b);
    },
  });
  return {
    baseUrl: `${opts.tls ? "https" : "http"}://127.0.0.1:${server.port}`,
    requests,
    putBlob(repo, bytes) {
      const d = sha256(bytes);
      blobs.set(`${repo}@${d}`, bytes);
      return d;
    },
    putManifest(repo, json) {
      const bytes = new TextEncoder().encode(JSON.stringify(json));
      const d = sha256(bytes);
      manifests.set(`${repo}@${d}`, bytes);
      return d;
    },
    corruptBlob(repo, digest) {
      const b = blobs.get(`${repo}@${digest}`);
      if (!b) throw new Error(`no blob ${digest}`);
      const c = new Uint8Array(b);
      c[0] = (c[0] ?? 0) ^ 0xff;
      blobs.set(`${repo}@${digest}`, c);
    },
    intercept(pathname, respond) {
      intercepts.set(pathname, respond);
    },
    stop: () => server.stop(true),
  };
}

export interface PublishedModuleFake {
  manifestDigest: string;
  ociReference: string;
  layers: { config: string; metadata: string; blob: string; verity: string };
}

/** Puts a module artifact (config + 3 layers + manifest) in the fake, as the hub's publisher lays it out. */
export function publishModuleFake(
  reg: OciRegistryFake,
  repo: string,
  manifest: ModuleManifest,
  files: { metadata: Uint8Array; blob: Uint8Array; verity: Uint8Array },
): PublishedModuleFake {
  const config = new TextEncoder().encode(JSON.stringify(manifest));
  const desc = (mediaType: string, bytes: Uint8Array) => ({
    mediaType,
    digest: reg.putBlob(repo, bytes),
    size: bytes.length,
  });
  const c = desc(MODULE_CONFIG_MEDIA_TYPE, config);
  const m = desc(MODULE_COMPOSEFS_MEDIA_TYPE, files.metadata);
  const b = desc(MODULE_EROFS_BLOB_MEDIA_TYPE, files.blob);
  const v = desc(MODULE_VERITY_HASHTREE_MEDIA_TYPE, files.verity);
  const manifestDigest = reg.putManifest(repo, {
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    artifactType: MODULE_ARTIFACT_TYPE,
    config: c,
    layers: [m, b, v],
  });
  return {
    manifestDigest,
    ociReference: `${reg.baseUrl}/${repo}@${manifestDigest}`,
    layers: { config: c.digest, metadata: m.digest, blob: b.digest, verity: v.digest },
  };
}
