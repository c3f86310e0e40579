/**
 * Test environment for publication: a real hub (the shared harness: PGlite, or a fresh PostgreSQL database
 * on TEST_DATABASE_URL; ports 0) whose operator listener also serves the OCI registry at /v2/ (admin
 * token to push), so registry URL = hub URL.
 */
import { startTestHub } from "../../test/harness.ts";
import type { RunningHub } from "../index.ts";

/** A hub plus the registry URL modules are pushed to. */
export interface PublishEnv extends AsyncDisposable {
  hub: RunningHub;
  registryUrl: string;
  token: string;
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

/** Starts the hub; throws when it does not serve /v2/. */
export async function startPublishEnv(): Promise<PublishEnv> {
  const hub = await startTestHub();
  if (!(await servesRegistry(hub.httpUrl, hub.adminToken))) {
    await hub.stop();
    throw new Error(`hub at ${hub.httpUrl} does not serve the OCI registry at /v2/`);
  }
  return {
    hub,
    registryUrl: hub.httpUrl,
    token: hub.adminToken,
    async [Symbol.asyncDispose]() {
      await hub.stop();
    },
  };
}
