/**
 * The request gate (call rates, credentials before the body) and the body limits per route, on a real
 * hub over both listeners.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect } from "node:http2";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { NodeService } from "@powernode/proto";
import { enrollTestNode, startTestHub } from "../../test/harness.ts";
import type { RunningHub } from "../hub.ts";
import { DEFAULT_LIMITS } from "../limits.ts";
import { CONNECT_MAX_BODY_BYTES } from "./body-limit.ts";
import { createTokenBuckets } from "./token-bucket.ts";

const MiB = 1024 * 1024;
let hub: RunningHub;
beforeAll(async () => {
  hub = await startTestHub({
    limits: {
      ...DEFAULT_LIMITS,
      // Nearly no refill, so the burst is what a test spends.
      nodeCallsPerSecond: 0.01,
      nodeCallBurst: 5,
    },
  });
}, 30_000);
afterAll(async () => {
  await hub.stop();
});

const codeOf = (e: unknown) => (e instanceof ConnectError ? Code[e.code] : String(e));

describe("token buckets", () => {
  test("a key spends its burst, gets tokens back at its rate, and never exceeds the burst", () => {
    const b = createTokenBuckets({ perSecond: 2, burst: 3 });
    expect([1, 2, 3, 4].map(() => b.take("a", 0))).toEqual([true, true, true, false]);
    expect(b.take("b", 0)).toBe(true);
    expect(b.take("a", 499)).toBe(false);
    expect(b.take("a", 500)).toBe(true);
    expect([1, 2, 3, 4].map(() => b.take("a", 1_000_000))).toEqual([true, true, true, false]);
  });

  test("memory is bounded: past maxKeys the full buckets go first", () => {
    const b = createTokenBuckets({ perSecond: 1, burst: 2, maxKeys: 3 });
    for (const k of ["a", "b", "c", "d", "e"]) b.take(k, 0);
    expect(b.size()).toBeLessThanOrEqual(3);
    expect(createTokenBuckets({ perSecond: 0, burst: 1 }).take("x")).toBe(true);
  });
});

describe("rate limits", () => {
  test("a node over its rate gets resource_exhausted; another node is unaffected; the refusal is counted", async () => {
    const a = await enrollTestNode(hub, "rate-a");
    const b = await enrollTestNode(hub, "rate-b");
    for (let i = 0; i < 5; i++) await a.client.heartbeat({ bootId: "boot-a" });
    const err = await a.client.heartbeat({ bootId: "boot-a" }).catch((e: unknown) => e);
    expect(codeOf(err)).toBe("ResourceExhausted");
    expect((err as ConnectError).rawMessage).toBe(
      `rate limit: node ${a.id} is over 0.01 calls/s (burst 5); retry later`,
    );
    for (let i = 0; i < 5; i++) await b.client.heartbeat({ bootId: "boot-b" });
    const metrics = await (await fetch(`${hub.httpUrl}/metrics`, { headers: auth() })).text();
    expect(metrics).toContain('powernode_rate_limited_total{method="powernode.v1.NodeService/Heartbeat"} 1');
  });

  test("calls without a client certificate share a bucket per source address (Enroll)", async () => {
    // Loopback is exempt by default (QEMU user networking): this hub exempts nothing.
    await using strict = await startTestHub({
      limits: {
        ...DEFAULT_LIMITS,
        anonymousCallsPerSecond: 0.01,
        anonymousCallBurst: 2,
        exemptAddresses: [],
      },
    });
    const enroll = createClient(
      NodeService,
      createConnectTransport({
        baseUrl: strict.mtlsUrl,
        httpVersion: "2",
        nodeOptions: { ca: strict.caPem },
      }),
    );
    const codes: string[] = [];
    for (let i = 0; i < 3; i++) {
      codes.push(
        await enroll
          .enroll({
            bootstrapToken: "pnb_nope",
            csrPem: "x",
            instanceUuid: crypto.randomUUID(),
            agentVersion: "t",
          })
          .then(
            () => "OK",
            (e: unknown) => codeOf(e),
          ),
      );
    }
    expect(codes.slice(0, 2)).not.toContain("ResourceExhausted");
    expect(codes[2]).toBe("ResourceExhausted");
    // A node's own bucket is not the address's: the address is spent, heartbeats with a certificate go on.
    const node = await enrollTestNode(hub, "rate-c");
    await node.client.heartbeat({ bootId: "boot-c" });
  }, 30_000);
});

function auth(): Record<string, string> {
  return { authorization: `Bearer ${hub.adminToken}` };
}

describe("credentials are decided before the body is read", () => {
  test("a node method without a certificate is unauthenticated even with a body that does not parse", async () => {
    // Port of the mTLS listener over HTTP/2 without a client certificate; the body is not protobuf.
    const session = connect(hub.mtlsUrl, { ca: hub.caPem });
    try {
      const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = session.request({
          ":method": "POST",
          ":path": "/powernode.v1.NodeService/Heartbeat",
          "content-type": "application/json",
        });
        let status = 0;
        let body = "";
        req.on("response", (h) => {
          status = Number(h[":status"]);
        });
        req.on("data", (d: Buffer) => {
          body += d.toString();
        });
        req.on("end", () => resolve({ status, body }));
        req.on("error", reject);
        req.end("{ this is not json");
      });
      expect(res.status).toBe(401);
      expect(JSON.parse(res.body)).toMatchObject({ code: "unauthenticated" });
    } finally {
      session.close();
    }
  });

  test("an operator method without a token is unauthenticated before its body is parsed", async () => {
    const res = await fetch(`${hub.httpUrl}/powernode.v1.FleetService/ListNodes`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{ not json",
    });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({
      code: "unauthenticated",
      message: "authorization: bearer token required",
    });
  });
});

describe("body limits per route", () => {
  const big = () => new Uint8Array(5 * MiB);

  test("the HTTP listener refuses a 5 MiB body on a Connect route before reading it (413)", async () => {
    expect(CONNECT_MAX_BODY_BYTES).toBeLessThan(5 * MiB);
    const res = await fetch(`${hub.httpUrl}/powernode.v1.FleetService/ListNodes`, {
      method: "POST",
      headers: { ...auth(), "content-type": "application/proto" },
      body: big(),
    });
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ code: "resource_exhausted" });
  });

  test("the HTTP listener cuts a 5 MiB chunked body on a Connect route (resource_exhausted)", async () => {
    const chunk = new Uint8Array(MiB);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        if (sent === 5) return c.close();
        sent++;
        c.enqueue(chunk);
      },
    });
    const res = await fetch(`${hub.httpUrl}/powernode.v1.FleetService/ListNodes`, {
      method: "POST",
      headers: { ...auth(), "content-type": "application/proto" },
      body,
    });
    expect(await res.json()).toMatchObject({ code: "resource_exhausted" });
  });

  test("an OCI blob upload of more than 5 MiB still works on the HTTP listener", async () => {
    const bytes = new Uint8Array(8 * MiB).map((_, i) => i % 251);
    const digest = `sha256:${new Bun.CryptoHasher("sha256").update(bytes).digest("hex")}`;
    const post = await fetch(`${hub.httpUrl}/v2/modules/big-upload/blobs/uploads/`, {
      method: "POST",
      headers: auth(),
    });
    expect(post.status).toBe(202);
    const loc = post.headers.get("location") ?? "";
    const patch = await fetch(`${hub.httpUrl}${loc}`, { method: "PATCH", headers: auth(), body: bytes });
    expect(patch.status).toBe(202);
    const put = await fetch(`${hub.httpUrl}${loc}${loc.includes("?") ? "&" : "?"}digest=${digest}`, {
      method: "PUT",
      headers: auth(),
    });
    expect(put.status).toBe(201);
  });

  test("the mTLS listener refuses a 5 MiB body: 413 for Connect, grpc-status 8 for gRPC", async () => {
    const session = connect(hub.mtlsUrl, { ca: hub.caPem });
    const send = (contentType: string) =>
      new Promise<Record<string, unknown>>((resolve, reject) => {
        const body = big();
        const req = session.request({
          ":method": "POST",
          ":path": "/powernode.v1.NodeService/Enroll",
          "content-type": contentType,
          "content-length": String(body.length),
        });
        req.on("response", (h) => {
          resolve(h as Record<string, unknown>);
          req.close();
        });
        req.on("error", reject);
        req.write(body.subarray(0, 1024));
      });
    try {
      const connectAnswer = await send("application/proto");
      expect(connectAnswer[":status"]).toBe(413);
      const grpcAnswer = await send("application/grpc");
      expect(grpcAnswer[":status"]).toBe(200);
      expect(grpcAnswer["grpc-status"]).toBe("8");
    } finally {
      session.close();
    }
  });
});
