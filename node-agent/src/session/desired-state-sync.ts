/**
 * hub.DesiredStateSync: keeps WatchDesiredState open, stores each document as the DesiredNodeState
 * resource (id "node") and logs its version; reconnects with backoff. The last document stays in
 * effect while the hub is away.
 *
 * A stream can go silently dead (the hub restarted and the HTTP/2 client never failed the open
 * stream: seen with Bun's node:http2 client), so the stream is also restarted when
 * - the heartbeat learns of a newer desired version than the one held, or the hub is reachable again
 *   after heartbeats failed (`ctx.restartWatch()`), or
 * - nothing arrived for `watchIdleMs` (the hub re-sends the current document every 25 s as keepalive).
 */
import { DesiredNodeState } from "../runtime/resources.ts";
import type { SessionContext } from "./context.ts";
import { loopBackoff, waitBeforeRetry } from "./context.ts";
import type { HubLink } from "./hub-client.ts";

/** Default idle limit: a bit over two hub keepalives. */
export const DEFAULT_WATCH_IDLE_MS = 60_000;

/** Runs until the session stops; never throws. */
export async function runDesiredStateSync(
  ctx: SessionContext,
  link: HubLink,
  watchIdleMs = DEFAULT_WATCH_IDLE_MS,
): Promise<void> {
  const backoff = loopBackoff(ctx);
  while (!ctx.signal.aborted) {
    const known = ctx.store.get(DesiredNodeState, "node")?.spec.version ?? 0n;
    const generation = link.generation();
    const stream = new AbortController();
    let why = "";
    const restart = (reason: string) => {
      why = reason;
      stream.abort();
    };
    ctx.restartWatch = restart;
    let idle = setTimeout(() => restart(`no message for ${watchIdleMs} ms`), watchIdleMs);
    try {
      const signal = AbortSignal.any([ctx.signal, stream.signal]);
      for await (const msg of link.current().client.watchDesiredState({ knownVersion: known }, { signal })) {
        clearTimeout(idle);
        idle = setTimeout(() => restart(`no message for ${watchIdleMs} ms`), watchIdleMs);
        backoff.reset();
        const state = msg.state;
        if (!state) continue;
        if (state.heartbeatIntervalSeconds > 0) ctx.state.heartbeatSeconds = state.heartbeatIntervalSeconds;
        // The hub re-sends the current document as a keepalive: only a new version is news.
        const current = ctx.store.get(DesiredNodeState, "node")?.spec.version;
        if (current === state.version) continue;
        ctx.store.set(DesiredNodeState, "node", state);
        ctx.log.info(`desired state version ${state.version} received (${state.modules.length} modules)`);
        ctx.changed();
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
      await waitBeforeRetry(ctx, "desired state watch", err, backoff);
    } finally {
      clearTimeout(idle);
      ctx.restartWatch = () => {};
    }
  }
}
