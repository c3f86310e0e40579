/**
 * `mesh-peers`: one WatchMeshPeers stream per mesh in the desired state, each kept as a MeshPeers
 * resource (snapshot, then deltas). A stream that fails reconnects with backoff and starts from a
 * fresh snapshot; a mesh that leaves the desired state has its stream closed and its resource removed.
 */
import type { MeshMembership } from "@powernode/proto";
import { waitBeforeRetry } from "../../hub/retry.ts";
import { createBackoff } from "../../runtime/backoff.ts";
import type { Controller, ControllerContext } from "../../runtime/controller.ts";
import type { AgentDeps } from "../deps.ts";
import { DesiredNodeState, HubConnection, MeshPeers } from "../resources.ts";
import { applyPeerUpdate, type PeerList } from "./apply-update.ts";

/** Restart a stream that was silent this long (the hub's keepalive is 25 s). */
export const MESH_STREAM_IDLE_MS = 60_000;

function desiredMeshes(ctx: ControllerContext): MeshMembership[] {
  return ctx.get(DesiredNodeState, "node")?.spec.network?.meshes ?? [];
}

/** Follows one mesh's peers until `signal` aborts. */
async function follow(
  ctx: ControllerContext,
  deps: AgentDeps,
  networkId: string,
  signal: AbortSignal,
): Promise<void> {
  const backoff = createBackoff(deps.backoff);
  while (!signal.aborted) {
    const conn = ctx.get(HubConnection, "node")?.spec;
    if (!conn) {
      // The main loop is the one waiting on ctx.changed(); poll for the connection instead.
      await ctx.clock.sleep(500, signal).catch(() => undefined);
      continue;
    }
    const generation = conn.link.generation();
    const idle = new AbortController();
    let timer = setTimeout(() => idle.abort(), MESH_STREAM_IDLE_MS);
    let list: PeerList | undefined;
    let messages = 0;
    try {
      const s = AbortSignal.any([signal, idle.signal]);
      for await (const msg of conn.link.current().mesh.watchMeshPeers({ networkId }, { signal: s })) {
        clearTimeout(timer);
        timer = setTimeout(() => idle.abort(), MESH_STREAM_IDLE_MS);
        backoff.reset();
        const next = applyPeerUpdate(list, msg);
        messages++;
        if (!list || next.peers !== list.peers || msg.snapshot) {
          ctx.set(MeshPeers, networkId, { ...next, messages });
          ctx.log.info(
            `mesh ${networkId.slice(0, 8)}: ${msg.snapshot ? "snapshot" : "update"} v${next.version}, ${next.peers.length} peers`,
          );
        }
        list = next;
      }
      if (signal.aborted) return;
      await waitBeforeRetry(
        ctx,
        `mesh peers ${networkId.slice(0, 8)}`,
        new Error("stream ended by the hub"),
        backoff,
      );
    } catch (err) {
      if (signal.aborted) return;
      if (conn.link.generation() !== generation || idle.signal.aborted) continue;
      await waitBeforeRetry(ctx, `mesh peers ${networkId.slice(0, 8)}`, err, backoff);
    } finally {
      clearTimeout(timer);
    }
  }
}

export function meshPeersController(deps: AgentDeps): Controller {
  return {
    name: "mesh-peers",
    inputs: [HubConnection, DesiredNodeState],
    outputs: [MeshPeers],
    async run(ctx) {
      const streams = new Map<string, { stop: AbortController; done: Promise<void> }>();
      try {
        while (!ctx.signal.aborted) {
          const want = new Set(desiredMeshes(ctx).map((m) => m.networkId));
          for (const [id, s] of streams) {
            if (want.has(id)) continue;
            s.stop.abort();
            await s.done;
            streams.delete(id);
            ctx.remove(MeshPeers, id);
          }
          for (const id of want) {
            if (streams.has(id)) continue;
            const stop = new AbortController();
            const signal = AbortSignal.any([ctx.signal, stop.signal]);
            streams.set(id, { stop, done: follow(ctx, deps, id, signal).catch(() => undefined) });
          }
          for (const r of ctx.list(MeshPeers)) if (!want.has(r.id)) ctx.remove(MeshPeers, r.id);
          ctx.condition(true, "Following", `${streams.size} meshes`);
          await ctx.changed();
        }
      } finally {
        for (const s of streams.values()) s.stop.abort();
        await Promise.all([...streams.values()].map((s) => s.done));
      }
    },
  };
}
