/**
 * The registry as the hub mounts it: the fetch-style handler plus an Elysia plugin wrapping it.
 */
import { Elysia } from "elysia";
import { createOciHandler, type OciHandle, type OciRegistryOptions } from "./handler.ts";
import { type PurgeOptions, type PurgeResult, purgeStale } from "./purge.ts";

/**
 * The request body limit the hub's listener should allow (Elysia `serve.maxRequestBodySize`): Bun's
 * default of 128 MiB rejects (413) a module blob image that skopeo uploads in one streamed PATCH.
 * Bodies are streamed to disk, so the limit bounds disk use per request, not memory.
 */
export const OCI_MAX_REQUEST_BODY_BYTES = 2 * 1024 * 1024 * 1024;

/** The OCI registry: `handle` for any fetch-style server, `plugin` for Elysia. */
export interface OciRegistry {
  handle: OciHandle;
  /**
   * An Elysia plugin answering `/v2` and `/v2/...` before routing (a global `onRequest` hook), so Elysia
   * never parses or buffers the body: blob uploads stream straight to disk. Other paths pass through.
   */
  plugin: OciPlugin;
  /** Removes abandoned upload sessions and stale temp files; the hub calls it periodically. */
  purge(opts?: PurgeOptions): Promise<PurgeResult>;
}

/** The Elysia plugin type returned by createOciRegistry. */
export type OciPlugin = ReturnType<typeof createOciPlugin>;

function createOciPlugin(handle: OciHandle, dataDir: string) {
  // The seed keeps Elysia's plugin deduplication from dropping a second registry over another dataDir.
  return new Elysia({ name: "powernode.oci", seed: dataDir })
    .onRequest(({ request }) => handle(request))
    .as("global");
}

/**
 * Creates the hub's OCI distribution registry over `opts.dataDir`.
 * @example
 * const oci = createOciRegistry({ dataDir: join(stateDir, "oci"), authorizePush: isAdminRequest, log });
 * app.use(oci.plugin);
 */
export function createOciRegistry(opts: OciRegistryOptions): OciRegistry {
  const handle = createOciHandler(opts);
  return { handle, plugin: createOciPlugin(handle, opts.dataDir), purge: (p) => purgeStale(opts.dataDir, p) };
}
