/**
 * The live event feed: one WatchEvents stream for the whole console (every view listens to it),
 * reopened after a break with `since` = the newest event seen, so nothing is missed or doubled.
 */
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { FleetEvent } from "@powernode/proto/browser";
import { type Api, Code, ConnectError } from "./api.ts";
import { dateOf } from "./format.ts";

export type LiveState = "connecting" | "live" | "reconnecting";

export interface Live {
  /** Calls `fn` with every event from now on; returns the unsubscribe. */
  onEvent(fn: (e: FleetEvent) => void): () => void;
  onState(fn: (s: LiveState) => void): () => void;
  state(): LiveState;
  stop(): void;
}

const RETRY_MS = 1000;

export function startLive(api: Api): Live {
  const abort = new AbortController();
  const listeners = new Set<(e: FleetEvent) => void>();
  const stateListeners = new Set<(s: LiveState) => void>();
  let state: LiveState = "connecting";
  let since: Date | undefined;
  const seen = new Set<string>();
  const setState = (s: LiveState) => {
    state = s;
    for (const fn of stateListeners) fn(s);
  };

  const run = async () => {
    while (!abort.signal.aborted) {
      try {
        const stream = api.fleet.watchEvents(
          { since: since ? timestampFromDate(since) : undefined },
          { signal: abort.signal },
        );
        setState("live");
        for await (const r of stream) {
          const e = r.event;
          if (!e || seen.has(e.id)) continue;
          if (seen.size > 5000) seen.clear();
          seen.add(e.id);
          since = dateOf(e.createdAt) ?? since;
          for (const fn of listeners) fn(e);
        }
      } catch (err) {
        if (abort.signal.aborted) return;
        if (ConnectError.from(err).code === Code.Unauthenticated) return; // signed out by the interceptor
      }
      if (abort.signal.aborted) return;
      setState("reconnecting");
      await new Promise((r) => setTimeout(r, RETRY_MS));
    }
  };
  void run();
  return {
    onEvent(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    onState(fn) {
      stateListeners.add(fn);
      return () => stateListeners.delete(fn);
    },
    state: () => state,
    stop: () => abort.abort(),
  };
}
