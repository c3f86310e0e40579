import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { FleetService } from "@powernode/proto";
import { enrollTestNode, operatorClient, startTestHub } from "../../test/harness.ts";
import type { RunningHub } from "../hub.ts";

let hub: RunningHub;
beforeAll(async () => {
  hub = await startTestHub();
}, 30_000);
afterAll(async () => {
  await hub.stop();
});

describe("ReportStatus re-sends", () => {
  test("an event re-sent after a lost answer is acknowledged without a second row; a later one is stored", async () => {
    const n = await enrollTestNode(hub, "resend-1");
    const at1 = timestampFromDate(new Date("2026-01-01T00:00:01Z"));
    const at2 = timestampFromDate(new Date("2026-01-01T00:00:02Z"));
    const first = [{ kind: "system.kernel.booted", at: at1, uptimeSeconds: 1 }];
    expect((await n.client.reportStatus({ bootId: "b", events: first })).acceptedEvents).toBe(1);
    const again = [...first, { kind: "system.network.up", at: at2, uptimeSeconds: 2 }];
    expect((await n.client.reportStatus({ bootId: "b", events: again })).acceptedEvents).toBe(2);
    // The same kind at the same agent time in another boot is a different event.
    await n.client.reportStatus({ bootId: "c", events: first });
    const events = (
      await operatorClient(hub, FleetService).listEvents({ nodeId: n.id, kindPrefix: "system.kernel." })
    ).events;
    expect(events.map((e) => e.correlationId)).toEqual(["b", "c"]);
    const net = (
      await operatorClient(hub, FleetService).listEvents({ nodeId: n.id, kindPrefix: "system.network." })
    ).events;
    expect(net).toHaveLength(1);
  });
});
