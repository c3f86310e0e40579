import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { Arch, FleetService, NodeState, ProvisionService, Severity } from "@powernode/proto";
import { operatorClient, startTestHub, waitFor } from "../../test/harness.ts";
import type { RunningHub } from "../hub.ts";

let hub: RunningHub;
beforeAll(async () => {
  hub = await startTestHub();
}, 30_000);
afterAll(async () => {
  await hub.stop();
});

describe("FleetService", () => {
  test("ListNodes pages through every node exactly once", async () => {
    const prov = operatorClient(hub, ProvisionService);
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      const r = await prov.createInstance({ name: `page-${i}`, arch: Arch.AMD64, provider: "none" });
      ids.push(r.instance?.id ?? "");
    }
    const fleet = operatorClient(hub, FleetService);
    const seen: string[] = [];
    let pageToken = "";
    let pages = 0;
    do {
      const r = await fleet.listNodes({ pageSize: 3, pageToken });
      seen.push(...r.nodes.map((n) => n.id));
      pageToken = r.nextPageToken;
      pages++;
    } while (pageToken);
    expect(pages).toBe(3);
    expect(seen.sort()).toEqual(ids.sort());
    expect((await fleet.listNodes({ state: NodeState.RUNNING })).nodes).toEqual([]);
    const bad = await fleet.listNodes({ pageToken: "xyz" }).catch((e) => ConnectError.from(e));
    expect((bad as ConnectError).rawMessage).toBe("page_token: not a token from this API");
  });

  test("ListEvents filters by kind prefix, node, severity and since; GetNode NotFound", async () => {
    const ev = hub.deps.events;
    const node = "00000000-0000-4000-8000-0000000000aa";
    await ev.emit({ kind: "test.alpha.one", severity: "info" }, { n: 1 }, { nodeId: node });
    const mid = new Date();
    await ev.emit(
      { kind: "test.alpha.two", severity: "critical" },
      { n: 2 },
      { nodeId: node, correlationId: "c-1" },
    );
    await ev.emit({ kind: "test.beta", severity: "warn" }, { n: 3 });
    const fleet = operatorClient(hub, FleetService);
    const kinds = async (req: Parameters<typeof fleet.listEvents>[0]) =>
      (await fleet.listEvents(req)).events.map((e) => e.kind);
    expect(await kinds({ kindPrefix: "test.alpha." })).toEqual(["test.alpha.one", "test.alpha.two"]);
    expect(await kinds({ kindPrefix: "test.", nodeId: node })).toEqual(["test.alpha.one", "test.alpha.two"]);
    expect(await kinds({ kindPrefix: "test.", minSeverity: Severity.WARN })).toEqual([
      "test.alpha.two",
      "test.beta",
    ]);
    expect(await kinds({ correlationId: "c-1" })).toEqual(["test.alpha.two"]);
    expect(
      await kinds({ kindPrefix: "test.", since: timestampFromDate(new Date(mid.getTime() - 1)) }),
    ).toContain("test.beta");
    expect(await kinds({ kindPrefix: "test.", limit: 1 })).toEqual(["test.beta"]);
    // A LIKE wildcard in the prefix is taken literally.
    expect(await kinds({ kindPrefix: "test.%" })).toEqual([]);
    const nf = await fleet.getNode({ id: node }).catch((e) => ConnectError.from(e));
    expect((nf as ConnectError).code).toBe(Code.NotFound);
  });

  test("ListEvents pages back through every event exactly once (count and byte limits); bad tokens are refused", async () => {
    const ev = hub.deps.events;
    const blob = "y".repeat(700 * 1024); // nine of these: more than one 4 MiB page
    for (let i = 0; i < 25; i++)
      await ev.emit({ kind: "test.page.e", severity: "info" }, i % 3 === 0 ? { i, blob } : { i });
    const fleet = operatorClient(hub, FleetService);
    for (const limit of [7, 1000]) {
      const seen: number[] = [];
      let token = "";
      let pages = 0;
      do {
        const r = await fleet.listEvents({ kindPrefix: "test.page.", limit, pageToken: token });
        seen.unshift(...r.events.map((e) => (e.payload?.i as number) ?? -1));
        token = r.nextPageToken;
        pages++;
      } while (token !== "" && pages < 50);
      expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => i));
      expect(pages).toBeGreaterThan(1);
    }
    const bad = await fleet.listEvents({ pageToken: "nope" }).catch((e) => ConnectError.from(e));
    expect((bad as ConnectError).code).toBe(Code.InvalidArgument);
    expect((bad as ConnectError).rawMessage).toContain("page_token");
  });

  test("WatchEvents replays from `since`, then streams live events matching the filter", async () => {
    const fleet = operatorClient(hub, FleetService);
    const before = new Date(Date.now() - 1);
    await hub.deps.events.emit({ kind: "watch.replayed", severity: "info" }, {});
    const ac = new AbortController();
    const it = fleet
      .watchEvents({ kindPrefix: "watch.", since: timestampFromDate(before) }, { signal: ac.signal })
      [Symbol.asyncIterator]();
    expect((await it.next()).value?.event?.kind).toBe("watch.replayed");
    await hub.deps.events.emit({ kind: "other.ignored", severity: "info" }, {});
    await hub.deps.events.emit({ kind: "watch.live", severity: "error" }, { x: 1 });
    const live = (await it.next()).value?.event;
    expect(live?.kind).toBe("watch.live");
    expect(live?.severity).toBe(Severity.ERROR);
    expect(live?.payload).toEqual({ x: 1 });
    ac.abort();
    await it.return?.();
    await waitFor("the WatchEvents subscriber to go away", () =>
      hub.deps.events.subscriberCount() === 0 ? true : undefined,
    );
  });
});
