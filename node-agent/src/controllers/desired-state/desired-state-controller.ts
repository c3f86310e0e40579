/**
 * `desired-state`: keeps WatchDesiredState open, stores each new document as DesiredNodeState and
 * logs its version; reconnects with backoff. The last document stays in effect while the hub is away.
 *
 * A stream can go silently dead (the hub restarted and the HTTP/2 client never failed the open
 * stream: seen with Bun's node:http2 client), so the stream is also restarted when
 * - HeartbeatStatus says the hub has a newer desired version than the one held, or the hub is
 *   reachable again after heartbeats failed, or
 * - nothing arrived for `watchIdleMs` (the hub re-sends the current document every 25 s as keepalive).
 */
import { waitBeforeRetry } from "../../hub/retry.ts";
import { createBackoff } from "../../runtime/backoff.ts";
import type { Controller } from "../../runtime/controller.ts";
import type { AgentDeps } from "../deps.ts";
import { DesiredNodeState, HeartbeatStatus, HubConnection } from "../resources.ts";

/** Default idle limit: a bit over two hub keepalives. */
export const DEFAULT_WATCH_IDLE_MS = 60_000;

export function desiredStateController(deps: AgentDeps): Controller {
  const watchIdleMs = deps.watchIdleMs ?? DEFAULT_WATCH_IDLE_MS;
  return {
    name: "desired-state",
    inputs: [HubConnection, HeartbeatStatus],
    outputs: [DesiredNodeState],
    async run(ctx) {
      const backoff = createBackoff(deps.backoff);
      let recoveries = ctx.get(HeartbeatStatus, "node")?.spec.recoveries ?? 0;
      while (!ctx.signal.aborted) {
        const conn = ctx.get(HubConnection, "node")?.spec;
        if (!conn) {
          await ctx.changed();
          continue;
        }
        const { link } = conn;
        const known = ctx.get(DesiredNodeState, "node")?.spec.version ?? 0n;
        const generation = link.generation();
        const stream = new AbortController();
        let why = "";
        const restart = (reason: string) => {
          why = reason;
          stream.abort();
        };
        let idle = setTimeout(() => restart(`no message for ${watchIdleMs} ms`), watchIdleMs);
        // Beside the stream: restart it when the heartbeat says it may be dead.
        const hints = (async () => {
          while (!stream.signal.aborted && !ctx.signal.aborted) {
            await ctx.changed({ signal: stream.signal });
            const hb = ctx.get(HeartbeatStatus, "node")?.spec;
            if (!hb) continue;
            const held = ctx.get(DesiredNodeState, "node")?.spec.version ?? 0n;
            if (hb.recoveries !== recoveries) {
              recoveries = hb.recoveries;
              restart("hub reachable again");
            } else if (hb.hubDesiredVersion > held) {
              restart(`hub has desired version ${hb.hubDesiredVersion}, holding ${held}`);
            }
          }
        })();
        try {
          const signal = AbortSignal.any([ctx.signal, stream.signal]);
          for await (const msg of link
            .current()
            .client.watchDesiredState({ knownVersion: known }, { signal })) {
            clearTimeout(idle);
            idle = setTimeout(() => restart(`no message for ${watchIdleMs} ms`), watchIdleMs);
            backoff.reset();
            ctx.condition(true, "Watching", "");
            const state = msg.state;
            // The hub re-sends the current document as a keepalive: only a new version is news.
            if (!state || ctx.get(DesiredNodeState, "node")?.spec.version === state.version) continue;
            ctx.set(DesiredNodeState, "node", state);
            ctx.log.info(
              `desired state version ${state.version} received (${state.modules?.assignments.length ?? 0} modules)`,
            );
          }
          if (ctx.signal.aborted) return;
          // The hub ended the stream (restart, deploy): reconnect, after a pause so a hub that keeps closing
          // it at once is not hammered.
          await waitBeforeRetry(ctx, "desired state watch", new Error("stream ended by the hub"), backoff);
        } catch (err) {
          if (ctx.signal.aborted) return;
          // The connection was replaced (certificate renewed): reconnect at once on the new one.
          if (link.generation() !== generation) continue;
          if (stream.signal.aborted) {
            ctx.log.info(`desired state watch: reconnecting (${why})`);
            continue;
          }
          ctx.condition(false, "Disconnected", err instanceof Error ? err.message : String(err));
          await waitBeforeRetry(ctx, "desired state watch", err, backoff);
        } finally {
          clearTimeout(idle);
          stream.abort();
          await hints;
        }
      }
    },
  };
}
