/**
 * `debug-probes` (test-only, only when the node booted with `powernode.debug=1`): runs the desired
 * state's `debug.ping` hooks once per desired-state version and records each result as
 * `system.debug.ping` {target, interface, transmitted, received}. The smokes use it to prove traffic
 * between nodes (over the mesh, say) from the nodes themselves.
 */
import { EVENTS } from "@powernode/proto";
import { type Controller, defineReconciler } from "../../runtime/controller.ts";
import type { AgentDeps } from "../deps.ts";
import { DebugProbeStatus, DesiredNodeState } from "../resources.ts";

export interface PingResult {
  transmitted: number;
  received: number;
}

/** What the probes need of the OS. */
export interface DebugProbesOs {
  ping(target: string, opts: { iface?: string; count: number }): Promise<PingResult>;
}

const ADDRESS_RE = /^(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9a-fA-F:]{2,39})$/;
const IFACE_RE = /^[A-Za-z0-9_.-]{1,15}$/;

export function debugProbesController(deps: AgentDeps & { debugProbes: DebugProbesOs }): Controller {
  let doneVersion = -1n;
  return defineReconciler({
    name: "debug-probes",
    inputs: [DesiredNodeState],
    outputs: [DebugProbeStatus],
    async reconcile(ctx) {
      const state = ctx.get(DesiredNodeState, "node")?.spec;
      if (!state || state.version === doneVersion) return undefined;
      doneVersion = state.version;
      const pings = state.debug?.ping ?? [];
      let run = 0;
      for (const [i, p] of pings.entries()) {
        if (!ADDRESS_RE.test(p.target) || (p.interface !== "" && !IFACE_RE.test(p.interface))) {
          ctx.log.warn(`debug.ping[${i}]: need {target: an IP address, interface: a name or empty}`);
          continue;
        }
        const count = Math.min(Math.max(p.count || 3, 1), 20);
        const r = await deps.debugProbes
          .ping(p.target, { ...(p.interface ? { iface: p.interface } : {}), count })
          .catch((err) => {
            ctx.log.warn(`debug.ping[${i}] ${p.target}: ${err instanceof Error ? err.message : String(err)}`);
            return { transmitted: count, received: 0 };
          });
        ctx.log.info(
          `DEBUG PING (powernode.debug=1): ${p.target} via ${p.interface || "any"}: ${r.received}/${r.transmitted}`,
        );
        deps.phases.record(EVENTS.debugPing.kind, {
          payload: { target: p.target, interface: p.interface, version: String(state.version), ...r },
        });
        run++;
      }
      ctx.set(DebugProbeStatus, "node", { version: state.version, pings: run });
      return undefined;
    },
  });
}
