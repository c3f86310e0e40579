/**
 * Bad input at the edge, as real malformed bodies (what no generated client sends): truncated and
 * broken binary protobuf, invalid UTF-8, Structs past the decoder's depth, broken framing and
 * compression, malformed JSON, NUL characters; on Connect, gRPC and gRPC-Web, on both listeners,
 * with and without credentials. Every one is `invalid_argument` naming the problem (never `internal`,
 * never a 500), logged and counted in /metrics; oversized messages, bad tokens and foreign client
 * certificates get their own codes.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { gzipSync } from "node:zlib";
import { fromJson, type JsonValue, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { NodeService } from "@powernode/proto";
import {
  type EnrolledTestNode,
  enrollTestNode,
  makeCsr,
  nodeTransport,
  startTestHub,
} from "../../test/harness.ts";
import {
  envelope,
  fetchClient,
  http2Client,
  type RawCall,
  type RawClient,
  type RawProtocol,
} from "../../test/raw-rpc.ts";
import { createCertificateAuthority } from "../ca/ca.ts";
import { parseCsr } from "../ca/csr.ts";
import type { RunningHub } from "../hub.ts";
import { createLogger } from "../log.ts";

const logged: string[] = [];
let hub: RunningHub;
let node: EnrolledTestNode;
let http: RawClient;
let nodeH2: RawClient;
let anonH2: RawClient;
let operatorH2: RawClient;

beforeAll(async () => {
  hub = await startTestHub({
    log: createLogger({ level: "info", fields: { component: "test" }, sink: (l) => logged.push(l) }),
  });
  node = await enrollTestNode(hub, "bad-input");
  const auth = { authorization: `Bearer ${hub.adminToken}` };
  http = fetchClient(hub.httpUrl, auth);
  nodeH2 = http2Client(hub.mtlsUrl, { ca: hub.caPem, cert: node.certPem, key: node.keyPem });
  anonH2 = http2Client(hub.mtlsUrl, { ca: hub.caPem });
  operatorH2 = http2Client(hub.mtlsUrl, { ca: hub.caPem }, auth);
}, 30_000);
afterAll(async () => {
  for (const c of [http, nodeH2, anonH2, operatorH2]) c?.close();
  await hub.stop();
});

const bytes = (...b: number[]) => new Uint8Array(b);
const utf8 = (s: string) => new TextEncoder().encode(s);
const PROTOCOLS: RawProtocol[] = ["connect", "grpc", "grpc-web"];
const LIST_NODES = "/powernode.v1.FleetService/ListNodes";
const GET_NODE = "/powernode.v1.FleetService/GetNode";
const ENROLL = "/powernode.v1.NodeService/Enroll";
const HEARTBEAT = "/powernode.v1.NodeService/Heartbeat";
const REPORT = "/powernode.v1.NodeService/ReportStatus";
const WATCH = "/powernode.v1.NodeService/WatchDesiredState";

/** Who calls which method on which listener: every protocol the listener speaks. */
const TARGETS: {
  name: string;
  client: () => RawClient;
  path: string;
  protocols: RawProtocol[];
  stream?: boolean;
}[] = [
  {
    name: "HTTP ListNodes (token)",
    client: () => http,
    path: LIST_NODES,
    protocols: ["connect", "grpc-web"],
  },
  { name: "mTLS ListNodes (token)", client: () => operatorH2, path: LIST_NODES, protocols: PROTOCOLS },
  { name: "mTLS Enroll (no credential)", client: () => anonH2, path: ENROLL, protocols: PROTOCOLS },
  { name: "mTLS Heartbeat (node)", client: () => nodeH2, path: HEARTBEAT, protocols: PROTOCOLS },
  {
    name: "mTLS WatchDesiredState (node)",
    client: () => nodeH2,
    path: WATCH,
    protocols: PROTOCOLS,
    stream: true,
  },
];

async function expectInvalid(c: RawClient, call: RawCall, problem: string | RegExp) {
  const r = await c.call(call);
  const what = `${call.protocol} ${call.path}`;
  expect({ what, code: r.code }).toEqual({ what, code: "invalid_argument" });
  expect(r.status).not.toBe(500);
  if (typeof problem === "string") expect(r.message).toContain(problem);
  else expect(r.message).toMatch(problem);
}

describe("malformed binary protobuf", () => {
  test("the single byte 0x08 is invalid_argument on every protocol, both listeners, with and without credentials", async () => {
    for (const t of TARGETS) {
      for (const protocol of t.protocols) {
        await expectInvalid(
          t.client(),
          { path: t.path, protocol, format: "proto", body: bytes(0x08), stream: t.stream },
          "premature EOF",
        );
      }
    }
  });

  test("truncations, bad varints, illegal wire types and invalid UTF-8 name the problem", async () => {
    const cases: [Uint8Array, string][] = [
      [bytes(0x0a, 0x05, 0x61), "premature EOF"],
      [bytes(0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f), "premature EOF"],
      [bytes(0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), "invalid varint"],
      [bytes(0x0e), "illegal tag: field no 1 wire type 6"],
      [bytes(0x00), "illegal tag: field no 0"],
      [bytes(0x0a, 0x02, 0xc3, 0x28), "not valid for encoding utf-8"],
    ];
    for (const [body, problem] of cases) {
      for (const protocol of PROTOCOLS) {
        await expectInvalid(anonH2, { path: ENROLL, protocol, format: "proto", body }, problem);
        await expectInvalid(nodeH2, { path: HEARTBEAT, protocol, format: "proto", body }, problem);
      }
      await expectInvalid(http, { path: GET_NODE, protocol: "connect", format: "proto", body }, problem);
    }
  });

  test("a Struct nested past the decoder's depth (binary) is invalid_argument", async () => {
    let deep: JsonValue = {};
    for (let i = 0; i < 60; i++) deep = { d: deep };
    const desc = NodeService.method.reportStatus.input;
    const body = toBinary(desc, fromJson(desc, { events: [{ kind: "system.network.up", payload: deep }] }));
    for (const protocol of PROTOCOLS) {
      await expectInvalid(
        nodeH2,
        { path: REPORT, protocol, format: "proto", body },
        "maximum recursion depth",
      );
    }
    // The same in JSON decodes, and the edge rule refuses it.
    const json = utf8(JSON.stringify({ events: [{ kind: "system.network.up", payload: deep }] }));
    await expectInvalid(
      nodeH2,
      { path: REPORT, protocol: "connect", format: "json", body: json },
      "nested deeper than 32",
    );
  });
});

describe("framing and compression", () => {
  test("a compressed envelope without an encoding, a short envelope, and a broken gzip body", async () => {
    for (const protocol of ["grpc", "grpc-web"] as const) {
      await expectInvalid(
        nodeH2,
        {
          path: HEARTBEAT,
          protocol,
          format: "proto",
          body: envelope(bytes(0x0a, 0x01, 0x62), 0x01),
          framed: true,
        },
        "received compressed envelope",
      );
      await expectInvalid(
        nodeH2,
        {
          path: HEARTBEAT,
          protocol,
          format: "proto",
          body: bytes(0x00, 0x00, 0x00, 0x00, 0x09, 0x0a),
          framed: true,
        },
        "protocol error",
      );
    }
    const gz = gzipSync(bytes(0x0a, 0x01, 0x62)).subarray(0, 12);
    await expectInvalid(
      nodeH2,
      {
        path: HEARTBEAT,
        protocol: "connect",
        format: "proto",
        body: gz,
        headers: { "content-encoding": "gzip" },
      },
      /decompression failed|unexpected end/,
    );
    await expectInvalid(
      nodeH2,
      {
        path: HEARTBEAT,
        protocol: "grpc",
        format: "proto",
        body: envelope(gz, 0x01),
        framed: true,
        headers: { "grpc-encoding": "gzip" },
      },
      /decompression failed|unexpected end/,
    );
  });
});

describe("malformed JSON and bad strings", () => {
  test("broken JSON, unknown fields, wrong types and invalid UTF-8 on both listeners", async () => {
    for (const c of [http, operatorH2]) {
      const call = (body: string | Uint8Array): RawCall => ({
        path: LIST_NODES,
        protocol: "connect",
        format: "json",
        body: typeof body === "string" ? utf8(body) : body,
      });
      await expectInvalid(c, call("{not json"), /JSON|json/);
      await expectInvalid(c, call(JSON.stringify({ pageSize: 1, bogusField: 2 })), "bogusField");
      await expectInvalid(c, call(JSON.stringify({ pageSize: "many" })), "page_size");
      await expectInvalid(
        c,
        call(bytes(...utf8('{"pageToken":"a'), 0xff, ...utf8('"}'))),
        "not valid for encoding utf-8",
      );
      await expectInvalid(c, call(JSON.stringify({ pageToken: "\ud800" })), /UTF-?8/i);
    }
  });

  test("NUL in node-supplied strings is invalid_argument naming the field, on every protocol", async () => {
    const hb = NodeService.method.heartbeat.input;
    const enroll = NodeService.method.enroll.input;
    const report = NodeService.method.reportStatus.input;
    for (const protocol of PROTOCOLS) {
      const proto = { protocol, format: "proto" as const };
      await expectInvalid(
        nodeH2,
        { ...proto, path: HEARTBEAT, body: toBinary(hb, fromJson(hb, { bootId: "b\u0000" })) },
        "boot_id: contains a NUL character",
      );
      await expectInvalid(
        nodeH2,
        {
          ...proto,
          path: HEARTBEAT,
          body: toBinary(hb, fromJson(hb, { bootId: "b", agentVersion: "\u0000" })),
        },
        "agent_version: contains a NUL character",
      );
      await expectInvalid(
        anonH2,
        {
          ...proto,
          path: ENROLL,
          body: toBinary(enroll, fromJson(enroll, { bootstrapToken: "t", agentVersion: "v\u0000" })),
        },
        "agent_version: contains a NUL character",
      );
      await expectInvalid(
        nodeH2,
        {
          ...proto,
          path: REPORT,
          body: toBinary(
            report,
            fromJson(report, { events: [{ kind: "system.network.up", payload: { s: "\u0000" } }] }),
          ),
        },
        "events[0].payload.s: contains a NUL character",
      );
    }
  });

  test("decode errors are logged and counted in /metrics; nothing answered internal", async () => {
    const res = await fetch(`${hub.httpUrl}/metrics`, {
      headers: { authorization: `Bearer ${hub.adminToken}` },
    });
    const text = await res.text();
    const count = (method: string, protocol: string) =>
      Number(
        new RegExp(
          `powernode_rpc_malformed_total\\{method="powernode.v1.${method}",protocol="${protocol}"\\} (\\d+)`,
        ).exec(text)?.[1] ?? 0,
      );
    for (const protocol of ["connect", "grpc", "grpc_web"]) {
      expect(count("NodeService/Enroll", protocol)).toBeGreaterThan(0);
      expect(count("NodeService/Heartbeat", protocol)).toBeGreaterThan(0);
    }
    expect(text).toMatch(
      /powernode_rpc_requests_total\{code="InvalidArgument",method="powernode.v1.NodeService\/Enroll"\} \d+/,
    );
    expect(text).not.toMatch(/powernode_rpc_requests_total\{code="(Internal|Unknown)"/);
    const lines = logged.filter((l) => l.includes("malformed request refused"));
    expect(lines.length).toBeGreaterThan(20);
    expect(lines.some((l) => l.includes("premature EOF") && l.includes("NodeService/Enroll"))).toBe(true);
    expect(logged.filter((l) => l.includes('"level":"error"'))).toEqual([]);
  });
});

describe("other refusals at the edge", () => {
  test("a message over 4 MiB is resource_exhausted", async () => {
    const big = utf8(JSON.stringify({ kindPrefix: "x".repeat(5 * 1024 * 1024) }));
    const r = await http.call({
      path: "/powernode.v1.FleetService/ListEvents",
      protocol: "connect",
      format: "json",
      body: big,
    });
    expect(r.code).toBe("resource_exhausted");
  });

  test("an unknown method is 404, not 500", async () => {
    const r = await http.call({
      path: "/powernode.v1.FleetService/Nope",
      protocol: "connect",
      format: "json",
      body: utf8("{}"),
    });
    expect(r.status).toBe(404);
  });

  test("bad bearer tokens are unauthenticated", async () => {
    for (const auth of ["", "Bearer", "Bearer short", "Basic abc", `Bearer ${"x".repeat(600)}`]) {
      const r = await fetchClient(hub.httpUrl, { authorization: auth }).call({
        path: LIST_NODES,
        protocol: "connect",
        format: "json",
        body: utf8("{}"),
      });
      expect(r.code).toBe("unauthenticated");
    }
  });

  test("Enroll with a huge token or junk fields answers a code, never a crash", async () => {
    const r = await anonH2.call({
      path: ENROLL,
      protocol: "connect",
      format: "json",
      body: utf8(
        JSON.stringify({
          bootstrapToken: "y".repeat(10_000),
          csrPem: "x",
          instanceUuid: "00000000-0000-4000-8000-000000000000",
        }),
      ),
    });
    expect(r.code).toBe("invalid_argument");
    expect((await fetch(`${hub.httpUrl}/healthz`)).status).toBe(200);
  });

  test("a certificate from another CA is refused as unauthenticated", async () => {
    // A second CA, made the same way, signs a certificate for a plausible instance id.
    const { default: forge } = await import("node-forge");
    const keys = forge.pki.rsa.generateKeyPair({ bits: 2048 });
    const cert = forge.pki.createCertificate();
    cert.publicKey = keys.publicKey;
    cert.serialNumber = "01";
    cert.validity.notBefore = new Date(Date.now() - 60_000);
    cert.validity.notAfter = new Date(Date.now() + 86_400_000);
    cert.setSubject([{ name: "commonName", value: "rogue" }]);
    cert.setIssuer([{ name: "commonName", value: "rogue" }]);
    cert.setExtensions([{ name: "basicConstraints", cA: true }]);
    cert.sign(keys.privateKey, forge.md.sha256.create());
    const rogue = await createCertificateAuthority({
      keyPem: forge.pki.privateKeyToPem(keys.privateKey),
      certPem: forge.pki.certificateToPem(cert),
    });
    const id = "00000000-0000-4000-8000-000000000001";
    const csr = await makeCsr(id);
    const parsed = await parseCsr(csr.csrPem, id);
    if (!parsed.ok) throw new Error(parsed.error);
    const issued = await rogue.issueNodeCertificate(parsed.value, id);
    const client = createClient(NodeService, nodeTransport(hub, { certPem: issued.pem, keyPem: csr.keyPem }));
    const err = await client.heartbeat({ bootId: "b" }).catch((e) => ConnectError.from(e));
    expect((err as ConnectError).code).toBe(Code.Unauthenticated);
    expect((err as ConnectError).rawMessage).toStartWith(
      "client certificate: does not verify against the hub CA",
    );
  });
});
