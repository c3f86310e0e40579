/**
 * Test environment for publication: a real hub (startHub: PGlite, ports 0) and a registry to push to.
 * When the hub serves the OCI API itself (`GET /v2/` answers as a registry), its own URL is used;
 * until then a separate Elysia listener with `createOciRegistry(...).plugin` on port 0, accepting the
 * hub's admin token for writes.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Elysia } from "elysia";
import { type RunningHub, startHub } from "../index.ts";
import { createLogger } from "../log.ts";
import { createOciRegistry, OCI_MAX_REQUEST_BODY_BYTES } from "../oci/index.ts";

/** A hub plus the registry URL modules are pushed to. */
export interface PublishEnv extends AsyncDisposable {
  hub: RunningHub;
  registryUrl: string;
  token: string;
  /** True when the registry is the hub's own /v2/. */
  hubServesRegistry: boolean;
}

/** Whether `baseUrl` answers the OCI distribution ping. */
export async function servesRegistry(baseUrl: string, token: string): Promise<boolean> {
  try {
    const r = await fetch(`${baseUrl}/v2/`, { headers: { authorization: `Bearer ${token}` } });
    await r.arrayBuffer();
    return r.status === 200 && r.headers.get("docker-distribution-api-version") === "registry/2.0";
  } catch {
    return false;
  }
}

/** Starts the hub and, when needed, a registry beside it. */
export async function startPublishEnv(): Promise<PublishEnv> {
  const hub = await startHub({ log: createLogger({ level: "error" }) });
  const token = hub.adminToken;
  if (await servesRegistry(hub.httpUrl, token)) {
    return {
      hub,
      registryUrl: hub.httpUrl,
      token,
      hubServesRegistry: true,
      async [Symbol.asyncDispose]() {
        await hub.stop();
      },
    };
  }
  const dataDir = await mkdtemp(join(tmpdir(), "pn-modules-oci-"));
  const oci = createOciRegistry({
    dataDir,
    authorizePush: (req) => req.headers.get("authorization") === `Bearer ${token}`,
  });
  const app = new Elysia({ serve: { maxRequestBodySize: OCI_MAX_REQUEST_BODY_BYTES } })
    .use(oci.plugin)
    .listen({ port: 0, hostname: "127.0.0.1" });
  const port = app.server?.port;
  if (port === undefined) throw new Error("registry listener has no port");
  return {
    hub,
    registryUrl: `http://127.0.0.1:${port}`,
    token,
    hubServesRegistry: false,
    async [Symbol.asyncDispose]() {
      await app.stop(true);
      await hub.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
