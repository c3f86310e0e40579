/**
 * The malformed-input corpus (issue 23, item 2): 10,000 generated cases (hub/test/malformed-corpus.ts,
 * seed 23) across every RPC of every feature's services, in binary and JSON, over Connect, gRPC and
 * gRPC-Web on both listeners; with the credential each method needs (so the bytes reach the decoder,
 * the edge rule and the handlers) and, for some, without. No answer may be a 500, `internal` or
 * `unknown`, no call may hang or break its connection, and the hub must be healthy at the end. The hub
 * runs in this process: its RSS before and after is printed.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type EnrolledTestNode, enrollTestNode, startTestHub } from "../../test/harness.ts";
import { type CorpusCase, createRng, malformedCorpus, methodsOf } from "../../test/malformed-corpus.ts";
import { fetchClient, http2Client, type RawClient, type RawProtocol } from "../../test/raw-rpc.ts";
import { principalsOf } from "../feature.ts";
import { FEATURES } from "../features.ts";
import type { RunningHub } from "../hub.ts";
import { UNLIMITED } from "../limits.ts";

const CASES = 10_000;
const SEED = 23;
const CONCURRENCY = 16;
/** Streams that decode run until their deadline: keep it short. */
const STREAM_DEADLINE_MS = 100;
const CALL_TIMEOUT_MS = 15_000;

let hub: RunningHub;
const nodes: EnrolledTestNode[] = [];
const clients: RawClient[] = [];

beforeAll(async () => {
  // Only the "none" provider: nothing in the corpus may start a VM. No rate limits: the cases are to
  // reach the decoder and the handlers, not the token bucket (request-gate.db.test.ts tests that).
  hub = await startTestHub({ providers: [], limits: UNLIMITED });
  for (let i = 0; i < 4; i++) nodes.push(await enrollTestNode(hub, `corpus-${i}`));
}, 60_000);
afterAll(async () => {
  for (const c of clients) c.close();
  await hub.stop();
});

const mib = (n: number) => `${(n / 1024 / 1024).toFixed(0)} MiB`;

describe("malformed-input corpus", () => {
  test(`${CASES} cases across every RPC: no 500, no internal, the hub healthy at the end`, async () => {
    const services = FEATURES.flatMap((f) => f.services ?? []).map((b) => b.service);
    const methods = methodsOf(services);
    const principals = principalsOf(FEATURES);
    const auth = { authorization: `Bearer ${hub.adminToken}` };
    const keep = <T extends RawClient>(c: T) => {
      clients.push(c);
      return c;
    };
    const http = { token: keep(fetchClient(hub.httpUrl, auth)), none: keep(fetchClient(hub.httpUrl)) };
    const mtls = {
      token: keep(http2Client(hub.mtlsUrl, { ca: hub.caPem }, auth)),
      none: keep(http2Client(hub.mtlsUrl, { ca: hub.caPem })),
      nodes: nodes.map((n) =>
        keep(http2Client(hub.mtlsUrl, { ca: hub.caPem, cert: n.certPem, key: n.keyPem })),
      ),
    };
    const route = createRng(SEED + 1);
    const anyProtocol = (): RawProtocol => route.pick(["connect", "grpc", "grpc-web"] as const);
    const httpProtocol = (): RawProtocol => route.pick(["connect", "grpc-web"] as const);
    /** Where a case goes: the credential its method needs most of the time, none (or the wrong one) else. */
    const target = (c: CorpusCase): { client: RawClient; protocol: RawProtocol; label: string } => {
      const principal = principals.get(c.path.slice(1)) ?? "operator";
      const r = route.next();
      if (principal === "node") {
        if (r < 0.8) return { client: route.pick(mtls.nodes), protocol: anyProtocol(), label: "mtls+cert" };
        if (r < 0.9) return { client: mtls.none, protocol: anyProtocol(), label: "mtls" };
        return { client: http.token, protocol: httpProtocol(), label: "http+token" };
      }
      if (principal === "operator") {
        if (r < 0.45) return { client: http.token, protocol: httpProtocol(), label: "http+token" };
        if (r < 0.8) return { client: mtls.token, protocol: anyProtocol(), label: "mtls+token" };
        if (r < 0.9) return { client: http.none, protocol: httpProtocol(), label: "http" };
        return { client: mtls.none, protocol: anyProtocol(), label: "mtls" };
      }
      if (r < 0.7) return { client: mtls.none, protocol: anyProtocol(), label: "mtls" };
      if (r < 0.85) return { client: route.pick(mtls.nodes), protocol: anyProtocol(), label: "mtls+cert" };
      return { client: http.none, protocol: httpProtocol(), label: "http" };
    };

    const byCode = new Map<string, number>();
    const byKind = new Map<string, number>();
    const byPath = new Map<string, number>();
    const bad: string[] = [];
    Bun.gc(true);
    const rssBefore = process.memoryUsage().rss;
    const started = performance.now();
    const cases = malformedCorpus(methods, { seed: SEED, count: CASES });
    const worker = async () => {
      for (let next = cases.next(); !next.done; next = cases.next()) {
        const c = next.value;
        const t = target(c);
        const stream = c.method.methodKind !== "unary";
        const headers: Record<string, string> = stream
          ? t.protocol === "connect"
            ? { "connect-timeout-ms": String(STREAM_DEADLINE_MS) }
            : { "grpc-timeout": `${STREAM_DEADLINE_MS}m` }
          : {};
        const what = `#${c.index} ${c.kind} ${t.protocol}+${c.format} ${t.label} ${c.path}`;
        byPath.set(c.path, (byPath.get(c.path) ?? 0) + 1);
        byKind.set(c.kind, (byKind.get(c.kind) ?? 0) + 1);
        try {
          const a = await t.client.call(
            { path: c.path, protocol: t.protocol, format: c.format, body: c.body, stream, headers },
            AbortSignal.timeout(CALL_TIMEOUT_MS),
          );
          byCode.set(a.code, (byCode.get(a.code) ?? 0) + 1);
          if (a.status >= 500 || a.code === "internal" || a.code === "unknown" || a.code.startsWith("http 5"))
            bad.push(`${what}: ${a.status} ${a.code} ${a.message.slice(0, 200)}`);
        } catch (e) {
          byCode.set("transport error", (byCode.get("transport error") ?? 0) + 1);
          bad.push(`${what}: ${(e as Error).message}`);
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const seconds = (performance.now() - started) / 1000;
    Bun.gc(true);
    const rssAfter = process.memoryUsage().rss;
    const health = await fetch(`${hub.httpUrl}/healthz`);

    console.log(
      `corpus: ${CASES} cases over ${methods.length} RPCs in ${seconds.toFixed(1)} s; ` +
        `RSS (hub in this process) ${mib(rssBefore)} before, ${mib(rssAfter)} after`,
    );
    console.log(
      `  answers: ${[...byCode.entries()]
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${k} ${v}`)
        .join(", ")}`,
    );
    console.log(`  mutations: ${[...byKind.entries()].map(([k, v]) => `${k} ${v}`).join(", ")}`);
    for (const b of bad.slice(0, 20)) console.log(`  BAD ${b}`);

    expect(bad).toEqual([]);
    expect(health.status).toBe(200);
    // Every RPC of every service got its share.
    expect(byPath.size).toBe(methods.length);
    for (const [path, n] of byPath)
      expect({ path, enough: n >= Math.floor(CASES / methods.length) }).toEqual({ path, enough: true });
  }, 120_000);
});
