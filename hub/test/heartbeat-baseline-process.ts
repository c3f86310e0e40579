/**
 * The physical limit of bench/heartbeat.ts: a bare `node:http2` TLS server, as its own process like the
 * hub, with the same TLS setup as the hub's mTLS listener (a server certificate from the bench CA,
 * client certificates required and verified against it), answering every Heartbeat with one fixed
 * Connect response. What the hub spends per heartbeat beyond this is the hub's own cost.
 *
 *   PN_BENCH_DATA=/tmp/x PN_BENCH_NAME=baseline bun hub/test/heartbeat-baseline-process.ts
 * reads <data>/baseline-tls.json ({ certPem, keyPem, caPem }), writes <data>/ready-<name>.json.
 */
import { readFileSync } from "node:fs";
import { createSecureServer, type ServerHttp2Stream } from "node:http2";
import { join } from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import { HeartbeatResponseSchema } from "@powernode/proto";
import { untilStopFile, writeReady } from "./bench-process.ts";

const dataDir = process.env.PN_BENCH_DATA;
if (!dataDir) throw new Error("PN_BENCH_DATA is not set");
const name = process.env.PN_BENCH_NAME || "baseline";
const tls = JSON.parse(readFileSync(join(dataDir, "baseline-tls.json"), "utf8")) as {
  certPem: string;
  keyPem: string;
  caPem: string;
};
const answer = Buffer.from(
  toBinary(HeartbeatResponseSchema, create(HeartbeatResponseSchema, { nextHeartbeatSeconds: 10 })),
);
const server = createSecureServer({
  cert: tls.certPem,
  key: tls.keyPem,
  ca: tls.caPem,
  requestCert: true,
  rejectUnauthorized: true,
  allowHTTP1: false,
});
server.on("stream", (stream: ServerHttp2Stream, headers) => {
  if (headers[":path"] !== "/powernode.v1.NodeService/Heartbeat") {
    stream.respond({ ":status": 404 });
    stream.end();
    return;
  }
  // The request body is read (as the hub reads it) and the fixed answer sent.
  stream.on("data", () => {});
  stream.on("end", () => {
    stream.respond({ ":status": 200, "content-type": "application/proto" });
    stream.end(answer);
  });
});
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
const address = server.address();
const port = typeof address === "object" && address ? address.port : 0;
writeReady(dataDir, name, { mtlsUrl: `https://127.0.0.1:${port}`, pid: process.pid });
await untilStopFile(dataDir);
server.close();
