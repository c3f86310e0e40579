/**
 * The OCI feature: the module artifact registry at `/v2/` (reads open: content is verified by digest
 * on the node; pushes need the operator token) and its housekeeping job (idle uploads, stale temp files).
 * Reads are served on the node (mTLS) listener too, where nodes pull modules over TLS by default.
 */
import { join } from "node:path";
import type { Deps } from "../deps.ts";
import type { Feature } from "../feature.ts";
import { bearerToken } from "../rpc/interceptors.ts";
import { basicPassword } from "./handler.ts";
import { purgeStale } from "./purge.ts";
import { createOciRegistry, type OciRegistry } from "./registry.ts";

/** Repositories under this prefix are the hub's own (agent builds: `powernode/agent`). */
export const HUB_REPOSITORY_PREFIX = "powernode/";

const ociDir = (deps: Pick<Deps, "config">) => join(deps.config.dataDir, "oci");

/** One registry per hub, shared by both listeners. */
const registries = new WeakMap<Deps, OciRegistry>();
function registryOf(deps: Deps): OciRegistry {
  let r = registries.get(deps);
  if (!r) {
    r = createOciRegistry({
      dataDir: ociDir(deps),
      // The operator token, as a Bearer token or as the password of basic credentials (any user).
      authorizePush: async (request) => {
        const header = request.headers.get("authorization");
        const token = bearerToken(header) ?? basicPassword(header);
        return token !== undefined && (await deps.adminAuth.verify(token));
      },
      // `powernode/` holds the hub's own artifacts (agent builds), whatever the operator allows besides.
      repositories: [...deps.config.registryRepositories, HUB_REPOSITORY_PREFIX],
      log: deps.log.child({ component: "oci" }),
    });
    registries.set(deps, r);
  }
  return r;
}

/** The hub's registry as a fetch-style handler (reads need no token): for in-process readers. */
export function hubRegistryHandle(deps: Deps): OciRegistry["handle"] {
  return registryOf(deps).handle;
}

export const ociFeature: Feature = {
  name: "oci",
  http: [(deps) => registryOf(deps).plugin],
  nodeHttp: [(deps) => registryOf(deps).handle],
  jobs: [
    {
      name: "oci-purge",
      everyMs: 3_600_000,
      async run(deps) {
        const r = await purgeStale(ociDir(deps));
        if (r.uploads + r.tmp > 0) deps.log.info("purged stale registry uploads", { ...r });
      },
    },
  ],
};
