/**
 * The in-process heartbeat path bench behind bench/heartbeat-path.ts (see there): a test hub, the
 * node listener's direct path over its services, and an in-memory stand-in for the HTTP/2 stream.
 */
import { X509Certificate } from "node:crypto";
import { EventEmitter } from "node:events";
import type { ServerHttp2Stream } from "node:http2";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { createContextValues } from "@connectrpc/connect";
import { HeartbeatRequestSchema, HeartbeatResponseSchema } from "@powernode/proto";
import type { Deps } from "../src/deps.ts";
import { principalsOf } from "../src/feature.ts";
import { FEATURES } from "../src/features.ts";
import { DEFAULT_LIMITS } from "../src/limits.ts";
import { kOrigin } from "../src/rpc/context.ts";
import type { NodeConnectionGuard } from "../src/rpc/node-connections.ts";
import { createNodeUnaryPath } from "../src/rpc/node-unary.ts";
import { routerOptions, serviceImpls } from "../src/rpc/routes.ts";
import { heartbeatBatchTotals } from "./bench-process.ts";
import { type EnrolledTestNode, enrollTestNode, startTestHub } from "./harness.ts";

/** What the direct path touches of a ServerHttp2Stream, answering once `end(body)` is called. */
class MemoryStream extends EventEmitter {
  destroyed = false;
  closed = false;
  session = { socket: { remoteAddress: "127.0.0.1" } };
  constructor(private readonly done: (status: number) => void) {
    super();
  }
  private status = 0;
  resume() {}
  close() {
    this.closed = true;
  }
  respond(headers: Record<string, string | number>) {
    this.status = Number(headers[":status"]);
  }
  end(_body?: Uint8Array) {
    this.closed = true;
    this.done(this.status);
  }
}

/** Runs the rounds; each row holds CPU µs per heartbeat of each measurement. */
export async function runHeartbeatPathBench(opts: {
  beats: number;
  concurrency: number;
  rounds: number;
}): Promise<Record<string, number>[]> {
  const { beats, concurrency, rounds } = opts;
  // The per-node rate limit still runs on every call (its cost is measured) but never refuses: the
  // bench's few nodes call far above a node's 20/s.
  const hub = await startTestHub({ limits: { ...DEFAULT_LIMITS, nodeCallBurst: 1_000_000 } });
  const nodes: EnrolledTestNode[] = [];
  for (let i = 0; i < concurrency; i++) nodes.push(await enrollTestNode(hub, `path-bench-${i}`));
  const peers = nodes.map((n) => {
    const cert = new X509Certificate(n.certPem);
    return { authorized: true, serial: cert.serialNumber, commonName: n.id };
  });

  function pathOver(deps: Deps) {
    const peerOf = new WeakMap<object, (typeof peers)[number]>();
    const path = createNodeUnaryPath(deps, {
      services: serviceImpls(deps, FEATURES),
      principals: principalsOf(FEATURES),
      router: routerOptions(deps, FEATURES),
      guard: { trackStream() {} } as unknown as NodeConnectionGuard,
      contextValues: (stream) =>
        createContextValues().set(kOrigin, {
          listener: "mtls",
          remoteIp: "127.0.0.1",
          peer: peerOf.get(stream),
        }),
    });
    const headers = {
      ":method": "POST",
      ":path": "/powernode.v1.NodeService/Heartbeat",
      "content-type": "application/proto",
      "connect-protocol-version": "1",
      "connect-timeout-ms": "15000",
    };
    return (node: number, body: Uint8Array) =>
      new Promise<void>((resolve, reject) => {
        const stream = new MemoryStream((status) =>
          status === 200 ? resolve() : reject(new Error(`HTTP ${status}`)),
        );
        peerOf.set(stream, peers[node] as (typeof peers)[number]);
        const h = { ...headers, "content-length": String(body.byteLength) };
        if (!path.serve(stream as unknown as ServerHttp2Stream, h))
          reject(new Error("not on the direct path"));
        stream.emit("data", Buffer.from(body));
        stream.emit("end");
      });
  }

  /** CPU µs per heartbeat of `beats` calls, `concurrency` in flight, each caller its own node. */
  async function measure(call: (node: number, body: Uint8Array) => Promise<void>): Promise<number> {
    const body = toBinary(
      HeartbeatRequestSchema,
      create(HeartbeatRequestSchema, { bootId: "boot-1", agentVersion: "bench", uptimeSeconds: 2 }),
    );
    // Each node's first heartbeat of the boot (the slow path, with its event) outside the measurement.
    await Promise.all(nodes.map((_n, i) => call(i, body)));
    let next = 0;
    const cpu0 = process.cpuUsage();
    await Promise.all(
      nodes.map(async (_n, i) => {
        while (next++ < beats) await call(i, body);
      }),
    );
    const cpu = process.cpuUsage(cpu0);
    return (cpu.user + cpu.system) / beats;
  }

  const full = pathOver(hub.deps);
  const instant: Deps = {
    ...hub.deps,
    heartbeats: {
      record: async () => ({ desiredVersion: 0, firstOfBoot: false }),
      drain: async () => {},
    },
  };
  const noWrites = pathOver(instant);
  // Each heartbeat finding its node's identity entry gone: what every heartbeat of a node beating
  // every 10 s did while the cache held entries for half an interval (before decision 0044).
  const reread = (node: number, body: Uint8Array) => {
    hub.deps.nodeIdentity.forget({ serial: peers[node]?.serial ?? "" });
    return full(node, body);
  };
  const codec = () => {
    const req = toBinary(
      HeartbeatRequestSchema,
      create(HeartbeatRequestSchema, { bootId: "boot-1", agentVersion: "bench", uptimeSeconds: 2 }),
    );
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < beats; i++) {
      fromBinary(HeartbeatRequestSchema, req);
      toBinary(HeartbeatResponseSchema, create(HeartbeatResponseSchema, { nextHeartbeatSeconds: 10 }));
    }
    const cpu = process.cpuUsage(cpu0);
    return (cpu.user + cpu.system) / beats;
  };
  const rows: Record<string, number>[] = [];
  try {
    for (let r = 1; r <= rounds; r++) {
      const row = {
        round: r,
        "path µs/beat": Number((await measure(full)).toFixed(1)),
        "path, writes not awaited µs/beat": Number((await measure(noWrites)).toFixed(1)),
        "path, identity re-read µs/beat": Number((await measure(reread)).toFixed(1)),
        "decode + encode µs/beat": Number(codec().toFixed(1)),
      };
      const written = heartbeatBatchTotals(await hub.deps.metrics.render());
      process.stderr.write(
        `${JSON.stringify(row)} rows/batch so far ${(written.rows / written.batches).toFixed(1)}\n`,
      );
      rows.push(row);
    }
  } finally {
    await hub.stop();
  }
  return rows;
}
