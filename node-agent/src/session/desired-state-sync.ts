/**
 * hub.DesiredStateSync: keeps WatchDesiredState open, stores each document as the DesiredNodeState
 * resource (id "node") and logs its version; reconnects with backoff. The last document stays in
 * effect while the hub is away.
 */
import { DesiredNodeState } from "../runtime/resources.ts";
import type { SessionContext } from "./context.ts";
import { loopBackoff, waitBeforeRetry } from "./context.ts";
import type { HubLink } from "./hub-client.ts";

/** Runs until the session stops; never throws. */
export async function runDesiredStateSync(ctx: SessionContext, link: HubLink): Promise<void> {
  const backoff = loopBackoff(ctx);
  while (!ctx.signal.aborted) {
    const known = ctx.store.get(DesiredNodeState, "node")?.spec.version ?? 0n;
    const generation = link.generation();
    try {
      for await (const msg of link
        .current()
        .client.watchDesiredState({ knownVersion: known }, { signal: ctx.signal })) {
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
      await waitBeforeRetry(ctx, "desired state watch", err, backoff);
    }
  }
}
