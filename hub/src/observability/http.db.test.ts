import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Arch, FleetService, ProvisionService } from "@powernode/proto";
import { enrollTestNode, operatorClient, startTestHub, waitFor } from "../../test/harness.ts";
import type { RunningHub } from "../hub.ts";

let hub: RunningHub;
beforeAll(async () => {
  hub = await startTestHub();
}, 30_000);
afterAll(async () => {
  await hub.stop();
});

describe("plain HTTP endpoints", () => {
  test("/healthz answers ok with the driver", async () => {
    const res = await fetch(`${hub.httpUrl}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok", database: hub.deps.dbDriver });
  });

  test("/metrics has RPC counts and latency per method, nodes by state and events by kind", async () => {
    await operatorClient(hub, ProvisionService).createInstance({
      name: "m-1",
      arch: Arch.AMD64,
      provider: "none",
    });
    await operatorClient(hub, FleetService).listNodes({});
    const node = await enrollTestNode(hub, "m-2");
    await node.client.heartbeat({ bootId: "b" });
    const res = await fetch(`${hub.httpUrl}/metrics`, {
      headers: { authorization: `Bearer ${hub.adminToken}` },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toStartWith("text/plain");
    const text = await res.text();
    expect(text).toContain(
      'powernode_rpc_requests_total{code="ok",method="powernode.v1.FleetService/ListNodes"} 1',
    );
    expect(text).toContain(
      'powernode_rpc_duration_seconds_count{method="powernode.v1.FleetService/ListNodes"} 1',
    );
    expect(text).toContain(
      'powernode_rpc_duration_seconds_bucket{method="powernode.v1.FleetService/ListNodes",le="+Inf"} 1',
    );
    expect(text).toContain('powernode_nodes{state="pending"} 1');
    expect(text).toContain('powernode_nodes{state="running"} 1');
    expect(text).toContain('powernode_events_total{kind="system.instance.provisioned",severity="info"} 2');
    expect(text).toContain("# TYPE powernode_nodes gauge");
    expect(text).toContain("\npowernode_heartbeat_rows_total 1\n");
    expect(text).toContain(
      'powernode_rpc_requests_total{code="ok",method="powernode.v1.NodeService/Heartbeat"} 1',
    );
  });

  test("/metrics without a token, or with a wrong one, is 401 and says how to scrape", async () => {
    const cases: Record<string, string>[] = [{}, { authorization: "Bearer pna_not-a-token-of-this-hub" }];
    for (const headers of cases) {
      const res = await fetch(`${hub.httpUrl}/metrics`, { headers });
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toBe("Bearer");
      const text = await res.text();
      expect(text).toContain("operator bearer token is required for /metrics");
      expect(text).toContain("POWERNODE_METRICS_LISTEN");
      expect(text).not.toContain("powernode_");
    }
  });

  test("POWERNODE_METRICS_LISTEN: a listener serving only /metrics, without a token", async () => {
    await using withListener = await startTestHub({
      security: { caKek: undefined, metricsListen: { host: "127.0.0.1", port: 0 } },
    });
    const url = withListener.metricsUrl;
    if (!url) throw new Error("no metricsUrl although POWERNODE_METRICS_LISTEN was given");
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await fetch(`${url}/metrics`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain("# TYPE powernode_nodes gauge");
    expect((await fetch(`${url}/healthz`)).status).toBe(404);
    expect((await fetch(`${url}/powernode.v1.FleetService/ListNodes`, { method: "POST" })).status).toBe(404);
    // The operator listener still wants the token.
    expect((await fetch(`${withListener.httpUrl}/metrics`)).status).toBe(401);
    expect(hub.metricsUrl).toBeUndefined();
  }, 30_000);

  test("/events/stream needs the operator token and streams matching events as SSE", async () => {
    expect((await fetch(`${hub.httpUrl}/events/stream`)).status).toBe(401);
    const ac = new AbortController();
    const res = await fetch(`${hub.httpUrl}/events/stream?kind=sse.`, {
      headers: { authorization: `Bearer ${hub.adminToken}` },
      signal: ac.signal,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    const reader = res.body?.getReader();
    if (!reader) throw new Error("no body");
    const decoder = new TextDecoder();
    let buf = "";
    const readUntil = async (needle: string) => {
      while (!buf.includes(needle)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended before ${needle}`);
        buf += decoder.decode(value);
      }
    };
    await readUntil(": connected");
    await hub.deps.events.emit({ kind: "other.kind", severity: "info" }, {});
    await hub.deps.events.emit({ kind: "sse.hello", severity: "warn" }, { a: 1 });
    await readUntil("event: sse.hello");
    await readUntil("}\n\n");
    const data = buf.split("\n").find((l) => l.startsWith("data: "));
    const ev = JSON.parse(data?.slice(6) ?? "{}") as { kind: string; severity: string; payload: unknown };
    expect({ kind: ev.kind, severity: ev.severity, payload: ev.payload }).toEqual({
      kind: "sse.hello",
      severity: "warn",
      payload: { a: 1 },
    });
    expect(buf).not.toContain("other.kind");
    ac.abort();
    await waitFor("the SSE subscriber to go away", () =>
      hub.deps.events.subscriberCount() === 0 ? true : undefined,
    );
  });
});
