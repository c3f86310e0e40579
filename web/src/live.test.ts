import { describe, expect, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { FleetEventSchema } from "@powernode/proto";
import type { WatchEventsRequest, WatchEventsResponse } from "@powernode/proto/browser";
import type { Api } from "./api.ts";
import { startLive } from "./live.ts";

const ev = (id: string, second: number) =>
  create(FleetEventSchema, {
    id,
    kind: "test.kind",
    createdAt: timestampFromDate(new Date(Date.UTC(2026, 0, 1, 0, 0, second))),
  });

/** A fake of the hub's WatchEvents: each call plays the next script, then throws its error or waits. */
function createFakeWatchApi(scripts: { events: ReturnType<typeof ev>[]; error?: Error }[]) {
  const requests: WatchEventsRequest[] = [];
  const api = {
    fleet: {
      async *watchEvents(
        req: WatchEventsRequest,
        opts: { signal: AbortSignal },
      ): AsyncGenerator<WatchEventsResponse> {
        requests.push(req);
        const script = scripts[requests.length - 1];
        for (const e of script?.events ?? []) yield { event: e } as WatchEventsResponse;
        if (script?.error) throw script.error;
        await new Promise<void>((resolve) => opts.signal.addEventListener("abort", () => resolve()));
      },
    },
  } as unknown as Api;
  return { api, requests };
}

const until = async (what: string, ok: () => boolean) => {
  for (let i = 0; i < 300 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!ok()) throw new Error(`timed out: ${what}`);
};

describe("startLive", () => {
  test("after a break it reopens from the newest event seen and drops what it already had", async () => {
    const { api, requests } = createFakeWatchApi([
      { events: [ev("a", 1), ev("b", 2)], error: new ConnectError("gone", Code.Unavailable) },
      { events: [ev("b", 2), ev("c", 3)] },
    ]);
    const live = startLive(api);
    const seen: string[] = [];
    const states: string[] = [];
    live.onEvent((e) => seen.push(e.id));
    live.onState((s) => states.push(s));
    await until("three events", () => seen.length >= 3);
    expect(seen).toEqual(["a", "b", "c"]);
    expect(requests[0]?.since).toBeUndefined();
    expect(requests[1]?.since && timestampDate(requests[1].since).getUTCSeconds()).toBe(2);
    expect(states).toEqual(["reconnecting", "live"]);
    live.stop();
  });

  test("an unauthenticated stream is not reopened (the sign-in takes over)", async () => {
    const { api, requests } = createFakeWatchApi([
      { events: [], error: new ConnectError("authorization: token not accepted", Code.Unauthenticated) },
    ]);
    const live = startLive(api);
    await new Promise((r) => setTimeout(r, 1200));
    expect(requests).toHaveLength(1);
    live.stop();
  });
});
