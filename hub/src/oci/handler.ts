/**
 * The OCI distribution API (v1.1) as one fetch-style function: `handle(request)` answers every
 * `/v2` request and returns `undefined` for any other path, so it can sit in front of other routes.
 * Reads are open; writes need `authorizePush(request)`.
 */
import {
  cancelUpload,
  getBlob,
  patchUpload,
  putUpload,
  requireDigest,
  startUpload,
  uploadStatus,
} from "./blob-routes.ts";
import { createBlobStore, isBodyReadError } from "./blob-store.ts";
import { isOciError, OciError, ociErrorResponse } from "./errors.ts";
import { deleteManifest, getManifest, listReferrers, listTags, putManifest } from "./manifest-routes.ts";
import { createManifestStore } from "./manifest-store.ts";
import { parseName } from "./reference.ts";

/** The subset of the hub logger the registry uses (the hub's `Logger` fits). */
export interface OciLogger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** Options of the registry. */
export interface OciRegistryOptions {
  /** Root of the registry's storage (blobs, uploads, repositories, tmp). */
  dataDir: string;
  /**
   * Decides whether a write (POST/PATCH/PUT/DELETE) may proceed, e.g. by checking an admin bearer token.
   * It must look at headers only: the body is still to be streamed to disk.
   */
  authorizePush: (request: Request) => Promise<boolean> | boolean;
  log?: OciLogger;
  /**
   * The Bearer realm announced in `WWW-Authenticate`. Default: `<request origin>/v2/token`, the anonymous
   * token endpoint below, so that standard clients (skopeo, containerd) can pull without credentials.
   */
  realm?: string;
  /**
   * Repository name prefixes writes may go to (`["modules/"]`: `modules/<anything>`); a write elsewhere
   * is 403 DENIED. Default: any name.
   */
  repositories?: readonly string[];
}

/** The password of a `Basic` Authorization header (the user name is ignored). */
export function basicPassword(header: string | null): string | undefined {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? "");
  if (!m?.[1]) return undefined;
  const decoded = Buffer.from(m[1], "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  return colon < 0 ? undefined : decoded.slice(colon + 1);
}

/** A fetch-style request handler. */
export type OciHandle = (request: Request) => Promise<Response | undefined>;

const API_VERSION_HEADER = { "docker-distribution-api-version": "registry/2.0" };
const WRITE_METHODS = new Set(["POST", "PATCH", "PUT", "DELETE"]);
const NO_LOG: OciLogger = { info: () => {}, warn: () => {}, error: () => {} };

type Route =
  | { kind: "base" }
  | { kind: "token" }
  | { kind: "uploads"; name: string }
  | { kind: "upload"; name: string; id: string }
  | { kind: "blob"; name: string; digest: string }
  | { kind: "manifest"; name: string; reference: string }
  | { kind: "tags"; name: string }
  | { kind: "referrers"; name: string; digest: string };

// Upload routes first: `<name>/blobs/uploads/<id>` would otherwise read as a blob of repo `<name>/blobs`.
const PATTERNS: [RegExp, (m: string[]) => Route][] = [
  [/^\/v2\/?$/, () => ({ kind: "base" })],
  [/^\/v2\/token$/, () => ({ kind: "token" })],
  [/^\/v2\/(.+)\/blobs\/uploads\/?$/, (m) => ({ kind: "uploads", name: m[1] ?? "" })],
  [/^\/v2\/(.+)\/blobs\/uploads\/([^/]+)$/, (m) => ({ kind: "upload", name: m[1] ?? "", id: m[2] ?? "" })],
  [/^\/v2\/(.+)\/blobs\/([^/]+)$/, (m) => ({ kind: "blob", name: m[1] ?? "", digest: m[2] ?? "" })],
  [
    /^\/v2\/(.+)\/manifests\/([^/]+)$/,
    (m) => ({ kind: "manifest", name: m[1] ?? "", reference: m[2] ?? "" }),
  ],
  [/^\/v2\/(.+)\/tags\/list$/, (m) => ({ kind: "tags", name: m[1] ?? "" })],
  [/^\/v2\/(.+)\/referrers\/([^/]+)$/, (m) => ({ kind: "referrers", name: m[1] ?? "", digest: m[2] ?? "" })],
];

/** Matches a decoded path to a route; undefined when nothing matches. */
export function matchRoute(path: string): Route | undefined {
  for (const [re, make] of PATTERNS) {
    const m = re.exec(path);
    if (m) return make([...m]);
  }
  return undefined;
}

const methodNotAllowed = (method: string) =>
  new OciError(405, "UNSUPPORTED", `method ${method} is not supported here`);

/**
 * Creates the registry's request handler over the filesystem storage in `opts.dataDir`.
 * @example
 * const handle = createOciHandler({ dataDir: "/var/lib/powernode/oci", authorizePush: (r) => isAdmin(r) });
 * Bun.serve({ fetch: async (r) => (await handle(r)) ?? new Response("not found", { status: 404 }) });
 */
export function createOciHandler(opts: OciRegistryOptions): OciHandle {
  const blobs = createBlobStore(opts.dataDir);
  const manifests = createManifestStore(opts.dataDir);
  const deps = { blobs, manifests };
  const log = opts.log ?? NO_LOG;

  const challenge = (url: URL) => ({
    "www-authenticate": `Bearer realm="${opts.realm ?? `${url.origin}/v2/token`}",service="powernode"`,
  });

  const mayPush = async (req: Request, method: string, path: string): Promise<boolean> => {
    try {
      return await opts.authorizePush(req);
    } catch (e) {
      log.error("oci: authorizePush threw; denying", { err: e, method, path });
      return false;
    }
  };

  const route = async (req: Request, url: URL): Promise<Response> => {
    let path: string;
    try {
      path = decodeURIComponent(url.pathname);
    } catch {
      throw new OciError(400, "NAME_INVALID", "path is not valid percent-encoding");
    }
    const r = matchRoute(path);
    if (!r) throw new OciError(404, "NAME_UNKNOWN", "no such endpoint", { path: path.slice(0, 200) });
    const m = req.method;
    const read = m === "GET" || m === "HEAD";

    if (r.kind === "base" || r.kind === "token") {
      if (!read) throw methodNotAllowed(m);
      // Anonymous token: reads are public, so the token grants nothing; it only lets clients that
      // follow the Bearer flow (skopeo without credentials) proceed. Writes check authorizePush.
      // With basic credentials that may push (any user name, the operator token as password: what
      // `docker login` and `skopeo --creds` send), the token is that password, so the writes that
      // follow carry it as their Bearer token.
      if (r.kind === "token") {
        const password = basicPassword(req.headers.get("authorization"));
        const token = password !== undefined && (await mayPush(req, m, path)) ? password : "anonymous";
        return Response.json({ token, access_token: token });
      }
      // Ask for credentials on the ping when none came, so clients holding a token send it on every
      // request (skopeo only authenticates after a challenge on /v2/).
      if (!req.headers.has("authorization")) {
        return ociErrorResponse(
          401,
          [{ code: "UNAUTHORIZED", message: "authentication required" }],
          challenge(url),
        );
      }
      return Response.json({});
    }

    if (WRITE_METHODS.has(m)) {
      if (!(await mayPush(req, m, path))) {
        log.warn("oci: write denied", { method: m, path });
        throw new OciError(401, "UNAUTHORIZED", "authentication required to push", undefined, challenge(url));
      }
    } else if (!read) {
      throw methodNotAllowed(m);
    }

    const name = parseName(r.name);
    if (!name.ok) throw new OciError(400, "NAME_INVALID", name.error, { name: r.name.slice(0, 300) });
    const allowed = opts.repositories;
    if (WRITE_METHODS.has(m) && allowed && !allowed.some((p) => r.name.startsWith(p)))
      throw new OciError(
        403,
        "DENIED",
        `repository ${r.name}: pushes go to names under ${allowed.join(", ")}`,
        {
          name: r.name.slice(0, 300),
        },
      );

    switch (r.kind) {
      case "blob":
        if (read) return getBlob(deps, req, r.digest);
        if (m === "DELETE") {
          requireDigest(r.digest, "blob");
          // Blobs are shared by every repository here; they go away only by garbage collection.
          throw new OciError(405, "UNSUPPORTED", "blob deletion is disabled; delete manifests instead");
        }
        throw methodNotAllowed(m);
      case "uploads":
        if (m !== "POST") throw methodNotAllowed(m);
        return startUpload(deps, req, url, r.name);
      case "upload":
        if (m === "GET") return uploadStatus(deps, r.name, r.id);
        if (m === "PATCH") return patchUpload(deps, req, r.name, r.id);
        if (m === "PUT") return putUpload(deps, req, url, r.name, r.id);
        if (m === "DELETE") return cancelUpload(deps, r.name, r.id);
        throw methodNotAllowed(m);
      case "manifest":
        if (read) return getManifest(deps, req, r.name, r.reference);
        if (m === "PUT") {
          const res = await putManifest(deps, req, r.name, r.reference);
          log.info("oci: manifest pushed", {
            name: r.name,
            reference: r.reference,
            digest: res.headers.get("docker-content-digest"),
          });
          return res;
        }
        if (m === "DELETE") {
          const res = await deleteManifest(deps, r.name, r.reference);
          log.info("oci: manifest deleted", { name: r.name, reference: r.reference });
          return res;
        }
        throw methodNotAllowed(m);
      case "tags":
        if (m !== "GET") throw methodNotAllowed(m);
        return listTags(deps, url, r.name);
      case "referrers":
        if (m !== "GET") throw methodNotAllowed(m);
        return listReferrers(deps, url, r.name, requireDigest(r.digest, "referrers"));
    }
  };

  return async (req) => {
    const url = new URL(req.url);
    if (url.pathname !== "/v2" && !url.pathname.startsWith("/v2/")) return undefined;
    let res: Response;
    try {
      res = await route(req, url);
    } catch (e) {
      if (isOciError(e)) {
        res = ociErrorResponse(e.status, e.errors, e.headers);
      } else if (isBodyReadError(e)) {
        // The client went away mid-body; whatever it sent was rolled back. Not a server fault.
        log.warn("oci: request body interrupted", { method: req.method, path: url.pathname, err: e.cause });
        res = ociErrorResponse(400, [{ code: "BLOB_UPLOAD_INVALID", message: e.message }]);
      } else {
        // Storage failures (disk full, permissions): logged with the cause, answered generically.
        log.error("oci: request failed", { err: e, method: req.method, path: url.pathname });
        res = ociErrorResponse(500, [{ code: "UNKNOWN", message: "internal error" }]);
      }
    }
    for (const [k, v] of Object.entries(API_VERSION_HEADER)) res.headers.set(k, v);
    return res;
  };
}
