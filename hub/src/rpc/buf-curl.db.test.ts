/**
 * An outside client: `buf curl` (the real buf binary) calls FleetService/ListNodes with the operator
 * token over Connect and gRPC-Web on the Elysia listener and over gRPC (TLS, hub CA) on the mTLS listener,
 * and NodeService/Enroll, which only the TLS listener serves.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { Arch, FleetService, ProvisionService } from "@powernode/proto";
import { run } from "../../../scripts/lib/exec.ts";
import { bearer, makeCsr, operatorClient, startTestHub } from "../../test/harness.ts";
import type { RunningHub } from "../hub.ts";

const repo = fileURLToPath(new URL("../../../", import.meta.url));
const BUF = join(repo, "proto/node_modules/.bin/buf");
const SCHEMA = join(repo, "proto");

let hub: RunningHub;
let dir: string;
let nodeId: string;

beforeAll(async () => {
  if (!existsSync(BUF)) throw new Error(`buf not found at ${BUF}: run bun install at the repo root`);
  hub = await startTestHub();
  dir = mkdtempSync(join(tmpdir(), "pn-bufcurl-"));
  writeFileSync(join(dir, "ca.pem"), hub.caPem);
  const res = await operatorClient(hub, ProvisionService).createInstance({
    name: "curl-me",
    arch: Arch.ARM64,
    provider: "none",
  });
  nodeId = res.instance?.id ?? "";
}, 30_000);
afterAll(async () => {
  await hub.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function bufCurl(protocol: string, url: string, extra: string[] = [], token = hub.adminToken) {
  return run(
    BUF,
    [
      "curl",
      "--schema",
      SCHEMA,
      "--protocol",
      protocol,
      "-H",
      `Authorization: Bearer ${token}`,
      "--data",
      "{}",
      ...extra,
      `${url}/powernode.v1.FleetService/ListNodes`,
    ],
    { timeoutMs: 30_000 },
  );
}

describe("buf curl FleetService/ListNodes", () => {
  test.each([
    ["connect", () => hub.httpUrl, [] as string[]],
    ["grpcweb", () => hub.httpUrl, [] as string[]],
    ["grpc", () => hub.mtlsUrl, ["--cacert", "CA"]],
  ])(
    "--protocol %s",
    async (protocol, url, extra) => {
      const args = extra.map((a) => (a === "CA" ? join(dir, "ca.pem") : a));
      const r = await bufCurl(protocol, url(), args);
      const body = JSON.parse(r.stdout) as {
        nodes: { id: string; name: string; arch: string; state: string }[];
      };
      expect(body.nodes.map((n) => ({ id: n.id, name: n.name, arch: n.arch, state: n.state }))).toEqual([
        { id: nodeId, name: "curl-me", arch: "ARCH_ARM64", state: "NODE_STATE_PENDING" },
      ]);
    },
    20_000,
  );

  test("Connect over HTTP/1.1 on the mTLS listener works too (allowHTTP1)", async () => {
    const transport = createConnectTransport({
      baseUrl: hub.mtlsUrl,
      httpVersion: "1.1",
      nodeOptions: { ca: hub.caPem },
      interceptors: [bearer(hub.adminToken)],
    });
    const res = await createClient(FleetService, transport).listNodes({});
    expect(res.nodes.map((n) => n.id)).toEqual([nodeId]);
  });

  test("a wrong token is unauthenticated on every protocol", async () => {
    for (const [protocol, url, extra] of [
      ["connect", hub.httpUrl, []],
      ["grpc", hub.mtlsUrl, ["--cacert", join(dir, "ca.pem")]],
    ] as const) {
      const err = await bufCurl(protocol, url, [...extra], "pna_wrongwrongwrongwrongwrong").then(
        () => undefined,
        (e: Error) => e.message,
      );
      expect(err).toContain("unauthenticated");
    }
  }, 20_000);
});

describe("buf curl NodeService/Enroll", () => {
  test("over plain HTTP it is refused, naming the TLS listener; over TLS the same token works", async () => {
    const created = await operatorClient(hub, ProvisionService).createInstance({
      name: "curl-enroll",
      arch: Arch.AMD64,
      provider: "none",
    });
    const id = created.instance?.id ?? "";
    const body = JSON.stringify({
      bootstrapToken: created.bootstrapToken,
      csrPem: (await makeCsr(id)).csrPem,
      instanceUuid: id,
    });
    const enroll = (protocol: string, url: string, extra: string[] = []) =>
      run(
        BUF,
        [
          "curl",
          "--schema",
          SCHEMA,
          "--protocol",
          protocol,
          "--data",
          body,
          ...extra,
          `${url}/powernode.v1.NodeService/Enroll`,
        ],
        { timeoutMs: 30_000 },
      );
    const refused = await enroll("connect", hub.httpUrl).then(
      () => "accepted",
      (e: Error) => e.message,
    );
    expect(refused).toContain("failed_precondition");
    expect(refused).toContain(`Enroll is served only on the TLS listener ${hub.nodeUrl}`);
    const ok = await enroll("grpc", hub.mtlsUrl, ["--cacert", join(dir, "ca.pem")]);
    expect((JSON.parse(ok.stdout) as { instanceUuid: string }).instanceUuid).toBe(id);
  }, 20_000);
});
