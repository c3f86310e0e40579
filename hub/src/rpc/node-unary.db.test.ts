/**
 * The direct path for unary node calls (node-unary.ts) against Connect's own: two hubs, one serving
 * node calls on the direct path and one through Connect only (`directNodeCalls: false`), get the same
 * raw HTTP/2 requests; their answers (status, content type, error code and message, response fields)
 * and what they count in /metrics must be the same.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type ClientHttp2Session, connect } from "node:http2";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { HeartbeatRequestSchema, HeartbeatResponseSchema, NodeService } from "@powernode/proto";
import { type EnrolledTestNode, enrollTestNode, startTestHub } from "../../test/harness.ts";
import type { RunningHub } from "../hub.ts";
import { DEFAULT_LIMITS } from "../limits.ts";

const HEARTBEAT = "/powernode.v1.NodeService/Heartbeat";
const BURST = 40;

interface Side {
  name: "direct" | "connect";
  hub: RunningHub;
  node: EnrolledTestNode;
  session: ClientHttp2Session;
}

let sides: Side[] = [];

beforeAll(async () => {
  sides = await Promise.all(
    (["direct", "connect"] as const).map(async (name) => {
      const hub = await startTestHub({
        directNodeCalls: name === "direct",
        limits: { ...DEFAULT_LIMITS, nodeCallsPerSecond: 0.01, nodeCallBurst: BURST },
      });
      const node = await enrollTestNode(hub, `unary-${name}`);
      const session = connect(hub.mtlsUrl, { ca: hub.caPem, cert: node.certPem, key: node.keyPem });
      return { name, hub, node, session };
    }),
  );
}, 60_000);
afterAll(async () => {
  for (const s of sides) {
    s.session.close();
    await s.hub.stop();
  }
});

interface Answer {
  status: number;
  contentType: string;
  body: Buffer;
}

function send(
  session: ClientHttp2Session,
  body: Uint8Array,
  headers: Record<string, string> = {},
  path = HEARTBEAT,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = session.request({
      ":method": "POST",
      ":path": path,
      "content-type": "application/proto",
      "connect-protocol-version": "1",
      ...headers,
    });
    let status = 0;
    let contentType = "";
    const chunks: Buffer[] = [];
    req.on("response", (h) => {
      status = Number(h[":status"]);
      contentType = String(h["content-type"] ?? "");
    });
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve({ status, contentType, body: Buffer.concat(chunks) }));
    req.on("error", reject);
    req.end(body);
  });
}

/** An answer with the node's own id replaced, so both hubs' answers compare. */
function normalised(a: Answer, side: Side): unknown {
  if (a.contentType === "application/proto") {
    const r = fromBinary(HeartbeatResponseSchema, a.body);
    return { status: a.status, desiredVersion: r.desiredVersion, next: r.nextHeartbeatSeconds };
  }
  const text = a.body.toString("utf8").replaceAll(side.node.id, "<node>");
  return { status: a.status, contentType: a.contentType, body: JSON.parse(text) };
}

const heartbeat = (fields: Partial<{ bootId: string; agentVersion: string }>) =>
  toBinary(HeartbeatRequestSchema, create(HeartbeatRequestSchema, { bootId: "boot-1", ...fields }));

/** Sends the same request to both hubs; returns their normalised answers, direct first. */
async function both(body: Uint8Array, headers: Record<string, string> = {}): Promise<[unknown, unknown]> {
  const [d, c] = await Promise.all(
    sides.map(async (s) => normalised(await send(s.session, body, headers), s)),
  );
  return [d, c];
}

async function metric(hub: RunningHub, pattern: RegExp): Promise<number> {
  const res = await fetch(`${hub.httpUrl}/metrics`, {
    headers: { authorization: `Bearer ${hub.adminToken}` },
  });
  const m = pattern.exec(await res.text());
  return m ? Number(m[1]) : 0;
}

describe("direct unary node calls answer as Connect does", () => {
  test("a heartbeat: 200, the same response fields", async () => {
    const [d, c] = await both(heartbeat({ agentVersion: "v1" }));
    expect(d).toEqual(c);
    expect(d).toMatchObject({ status: 200, next: expect.any(Number) });
  });

  test("a deadline header is accepted; a malformed one is refused the same way", async () => {
    const [d, c] = await both(heartbeat({}), { "connect-timeout-ms": "15000" });
    expect(d).toEqual(c);
    expect(d).toMatchObject({ status: 200 });
    const [bd, bc] = await both(heartbeat({}), { "connect-timeout-ms": "soon" });
    expect(bd).toEqual(bc);
    expect(bd).toMatchObject({ status: 400 });
  });

  test("bytes that are not a message: invalid_argument 'parse binary: ...', counted as malformed", async () => {
    const malformed =
      /powernode_rpc_malformed_total\{method="powernode.v1.NodeService\/Heartbeat",protocol="connect"\} (\d+)/;
    const before = await Promise.all(sides.map((s) => metric(s.hub, malformed)));
    const [d, c] = await both(new Uint8Array([0x08]));
    expect(d).toEqual(c);
    expect(d).toMatchObject({
      status: 400,
      body: { code: "invalid_argument", message: expect.stringMatching(/^parse binary: /) },
    });
    const after = await Promise.all(sides.map((s) => metric(s.hub, malformed)));
    expect(after.map((n, i) => n - (before[i] ?? 0))).toEqual([1, 1]);
  });

  test("a string the edge rule refuses: invalid_argument naming the field", async () => {
    const [d, c] = await both(heartbeat({ bootId: "bad\u0000boot" }));
    expect(d).toEqual(c);
    expect(d).toMatchObject({
      status: 400,
      body: { code: "invalid_argument", message: "boot_id: contains a NUL character" },
    });
  });

  test("a field the service refuses: its domain error, as the errors interceptor maps it", async () => {
    const [d, c] = await both(heartbeat({ bootId: "" }));
    expect(d).toEqual(c);
    expect(d).toMatchObject({ status: 400, body: { code: "invalid_argument" } });
  });

  test("another protocol version header: answered alike (Connect does not require the header)", async () => {
    const [d, c] = await both(heartbeat({}), { "connect-protocol-version": "2" });
    expect(d).toEqual(c);
    expect(d).toMatchObject({ status: 200 });
  });

  test("without a client certificate: unauthenticated, with Connect's message", async () => {
    const answers = await Promise.all(
      sides.map(async (s) => {
        const anon = connect(s.hub.mtlsUrl, { ca: s.hub.caPem });
        try {
          return normalised(await send(anon, heartbeat({})), s);
        } finally {
          anon.close();
        }
      }),
    );
    expect(answers[0]).toEqual(answers[1]);
    expect(answers[0]).toMatchObject({ status: 401, body: { code: "unauthenticated" } });
  });

  test("the requests counter moves alike on both hubs, by code", async () => {
    const counted = async (hub: RunningHub, code: string) =>
      metric(
        hub,
        new RegExp(
          `powernode_rpc_requests_total\\{(?=[^}]*method="powernode.v1.NodeService/Heartbeat")(?=[^}]*code="${code}")[^}]*\\} (\\d+)`,
        ),
      );
    const ok = await Promise.all(sides.map((s) => counted(s.hub, "ok")));
    const invalid = await Promise.all(sides.map((s) => counted(s.hub, "InvalidArgument")));
    expect(ok[0]).toBe(ok[1]);
    expect(invalid[0]).toBe(invalid[1]);
    expect(ok[0]).toBeGreaterThan(0);
    expect(invalid[0]).toBeGreaterThan(0);
  });

  test("the agent's transport (Connect, binary, HTTP/2) gets a ConnectError with the code and message", async () => {
    const direct = sides[0] as Side;
    const client = createClient(
      NodeService,
      createConnectTransport({
        baseUrl: direct.hub.mtlsUrl,
        httpVersion: "2",
        useBinaryFormat: true,
        nodeOptions: { ca: direct.hub.caPem, cert: direct.node.certPem, key: direct.node.keyPem },
      }),
    );
    const ok = await client.heartbeat({ bootId: "boot-1", agentVersion: "v1" }, { timeoutMs: 15_000 });
    expect(ok.nextHeartbeatSeconds).toBeGreaterThan(0);
    const err = await client.heartbeat({ bootId: "a\u0000b" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.InvalidArgument);
    expect((err as ConnectError).rawMessage).toBe("boot_id: contains a NUL character");
  });

  test("over the node's rate: resource_exhausted with the same message (runs last: it spends the burst)", async () => {
    const answers = await Promise.all(
      sides.map(async (s) => {
        let last: unknown;
        for (let i = 0; i < BURST + 1; i++) last = normalised(await send(s.session, heartbeat({})), s);
        return last;
      }),
    );
    expect(answers[0]).toEqual(answers[1]);
    expect(answers[0]).toMatchObject({
      status: 429,
      body: { code: "resource_exhausted", message: expect.stringContaining("rate limit: node <node>") },
    });
  });
});
