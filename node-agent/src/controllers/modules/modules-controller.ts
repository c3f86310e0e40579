/**
 * `modules`: drives the module set. It reconciles on every new DesiredNodeState and every
 * `reconcileMs` (level-triggered: a pending fetch is retried, a settled set costs a comparison), and
 * observes the mounted modules every `observeMs` (fs-verity digest on change, dm-verity health), so the
 * heartbeat always carries a fresh ModuleSetStatus.
 */
import type { RegistryCredential } from "@powernode/oci";
import type { Controller, ControllerContext } from "../../runtime/controller.ts";
import type { AgentDeps } from "../deps.ts";
import { DesiredNodeState, HubConnection, ModuleSetStatus } from "../resources.ts";
import type { ModuleSet } from "./module-set.ts";

/** The node's pull credential for one registry location, asked of the hub on its current connection. */
function pullCredentialOf(ctx: ControllerContext) {
  return async (host: string, repository: string): Promise<RegistryCredential | undefined> => {
    const conn = ctx.get(HubConnection, "node")?.spec;
    if (!conn) throw new Error(`registry ${host} asks for credentials and the hub is not connected yet`);
    const r = await conn.link.current().registry.getPullCredential({ host, repository });
    const c = r.credential;
    if (c.case === "basic") return { kind: "basic", username: c.value.username, password: c.value.password };
    if (c.case === "bearerToken") return { kind: "bearer", token: c.value };
    return undefined;
  };
}

export const DEFAULT_RECONCILE_MS = 30_000;
export const DEFAULT_OBSERVE_MS = 2_000;

export function modulesController(
  deps: Pick<AgentDeps, "moduleObserveMs"> & { modules: ModuleSet },
  reconcileMs = DEFAULT_RECONCILE_MS,
): Controller {
  const set = deps.modules;
  const observeMs = deps.moduleObserveMs ?? DEFAULT_OBSERVE_MS;
  return {
    name: "modules",
    inputs: [DesiredNodeState, HubConnection],
    outputs: [ModuleSetStatus],
    async run(ctx) {
      let seen: bigint | undefined;
      let lastReconcile = Number.NEGATIVE_INFINITY;
      while (!ctx.signal.aborted) {
        const desired = ctx.get(DesiredNodeState, "node")?.spec;
        const now = performance.now();
        if (desired && (desired.version !== seen || now - lastReconcile >= reconcileMs)) {
          seen = desired.version;
          lastReconcile = now;
          await set.reconcile(desired, { pullCredential: pullCredentialOf(ctx) });
        }
        const observations = set.observe();
        ctx.set(ModuleSetStatus, "node", {
          observations,
          appliedVersion: set.appliedVersion(),
          root: set.root(),
        });
        const failed = observations.filter((o) => o.state === "failed");
        const pending = observations.filter((o) => o.state === "pending");
        if (failed.length > 0)
          ctx.condition(false, "ModuleFailed", failed.map((o) => `${o.name}: ${o.message}`).join("; "));
        else if (pending.length > 0) ctx.condition(true, "Pending", pending.map((o) => o.name).join(", "));
        else ctx.condition(true, "Applied", "");
        await ctx.changed({ timeoutMs: observeMs });
      }
    },
  };
}
