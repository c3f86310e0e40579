/**
 * Agent builds over the real API: a build pushed to the hub registry registers once (the same build
 * again is a no-op, a mismatched or missing artifact is refused naming the field); assigning it puts
 * the `agent` section in the node's desired state with a URL the node listener serves byte for byte;
 * heartbeats record the pid and a refused build once, as `system.agent.update_failed`.
 */
import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code } from "@connectrpc/connect";
import {
  AGENT_ARTIFACT_TYPE,
  AGENT_BINARY_MEDIA_TYPE,
  AGENT_CONFIG_MEDIA_TYPE,
  pushArtifact,
} from "@powernode/oci";
import { AgentService, Arch, FleetService } from "@powernode/proto";
import { enrollTestNode, operatorClient, refusalOf, startTestHub } from "../../test/harness.ts";
import { getDesiredState } from "../desired-state/index.ts";
import type { RunningHub } from "../hub.ts";
import { AGENT_REPOSITORY, agentTag } from "./builds.ts";

let hub: RunningHub;
beforeAll(async () => {
  hub = await startTestHub();
}, 30_000);
afterAll(async () => {
  await hub.stop();
});

const dir = mkdtempSync(join(tmpdir(), "agent-builds-"));

/** Pushes `bytes` as an agent build; `config` overrides what the config blob says. */
async function push(version: string, arch: "amd64" | "arm64", bytes: Buffer, config: object = {}) {
  const path = join(dir, `${version}-${arch}`);
  writeFileSync(path, bytes);
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  const cfg = { version, arch, sha256, size: bytes.length, ...config };
  const digest = await pushArtifact(
    hub.httpUrl,
    AGENT_REPOSITORY,
    agentTag(version, arch),
    {
      artifactType: AGENT_ARTIFACT_TYPE,
      config: { mediaType: AGENT_CONFIG_MEDIA_TYPE, bytes: new TextEncoder().encode(JSON.stringify(cfg)) },
      layers: [{ mediaType: AGENT_BINARY_MEDIA_TYPE, path }],
    },
    { token: hub.adminToken },
  );
  return { digest, sha256 };
}

const refusal = refusalOf;

describe("agent builds", () => {
  const agents = () => operatorClient(hub, AgentService);
  const binary = Buffer.from(`#!fake agent ${crypto.randomUUID()}\n`.repeat(1000));

  test("a pushed build registers once; the same build again is a no-op", async () => {
    const { digest, sha256 } = await push("2.0.0", "amd64", binary);
    const first = await agents().registerAgentBuild({
      version: "2.0.0",
      arch: Arch.AMD64,
      manifestDigest: digest,
    });
    expect(first.created).toBe(true);
    expect(first.build?.sha256).toBe(sha256);
    expect(first.build?.size).toBe(BigInt(binary.length));
    const again = await agents().registerAgentBuild({
      version: "2.0.0",
      arch: Arch.AMD64,
      manifestDigest: digest,
    });
    expect(again.created).toBe(false);
    const list = await agents().listAgentBuilds({});
    expect(list.builds.filter((b) => b.version === "2.0.0")).toHaveLength(1);
  });

  test("another binary under a registered version, a lying config or an unknown digest are refused", async () => {
    const other = await push("2.0.0", "amd64", Buffer.from("another binary"));
    expect(
      await refusal(
        agents().registerAgentBuild({ version: "2.0.0", arch: Arch.AMD64, manifestDigest: other.digest }),
      ),
    ).toMatchObject({ code: Code.AlreadyExists, message: expect.stringContaining("version: 2.0.0 (amd64)") });

    const lying = await push("2.1.0", "amd64", Buffer.from("x"), { sha256: "0".repeat(64) });
    expect(
      await refusal(
        agents().registerAgentBuild({ version: "2.1.0", arch: Arch.AMD64, manifestDigest: lying.digest }),
      ),
    ).toMatchObject({ code: Code.FailedPrecondition, message: expect.stringContaining("manifest_digest:") });

    const wrongArch = await push("2.2.0", "arm64", Buffer.from("y"));
    expect(
      await refusal(
        agents().registerAgentBuild({ version: "2.2.0", arch: Arch.AMD64, manifestDigest: wrongArch.digest }),
      ),
    ).toMatchObject({
      code: Code.FailedPrecondition,
      message: expect.stringContaining("the request 2.2.0 amd64"),
    });

    expect(
      await refusal(
        agents().registerAgentBuild({
          version: "2.3.0",
          arch: Arch.AMD64,
          manifestDigest: `sha256:${"a".repeat(64)}`,
        }),
      ),
    ).toMatchObject({ code: Code.NotFound });
    expect(
      await refusal(
        agents().registerAgentBuild({ version: "bad version", arch: Arch.AMD64, manifestDigest: "x" }),
      ),
    ).toMatchObject({ code: Code.InvalidArgument, message: expect.stringContaining("version:") });
    expect(
      await refusal(
        agents().registerAgentBuild({ version: "2.3.0", arch: Arch.UNSPECIFIED, manifestDigest: "x" }),
      ),
    ).toMatchObject({ code: Code.InvalidArgument, message: expect.stringContaining("arch:") });
  });

  test("an assigned build is in the agent section, served by the node listener to the node", async () => {
    const node = await enrollTestNode(hub, "agent-update");
    expect(await refusal(agents().setNodeAgent({ nodeId: node.id, version: "9.9.9" }))).toMatchObject({
      code: Code.NotFound,
      message: expect.stringContaining("pnctl agent publish"),
    });

    const set = await agents().setNodeAgent({ nodeId: node.id, version: "2.0.0" });
    expect(set.agent?.desiredVersion).toBe("2.0.0");
    const state = await getDesiredState(hub.deps.db, node.id);
    expect(state.version).toBe(set.desiredVersion);
    const section = state.agent;
    expect(section?.version).toBe("2.0.0");
    expect(section?.size).toBe(BigInt(binary.length));
    expect(section?.url.startsWith(hub.mtlsUrl) || section?.url.includes("/v2/powernode/agent/blobs/")).toBe(
      true,
    );

    const blobPath = new URL(section?.url ?? "").pathname;
    const res = await fetch(`${hub.mtlsUrl}${blobPath}`, {
      tls: { ca: hub.caPem, cert: node.certPem, key: node.keyPem },
    } as RequestInit);
    expect(res.status).toBe(200);
    const got = Buffer.from(await res.arrayBuffer());
    expect(createHash("sha256").update(got).digest("hex")).toBe(section?.sha256 ?? "");

    // Back to the image's agent: the section empties.
    await agents().setNodeAgent({ nodeId: node.id, version: "" });
    expect((await getDesiredState(hub.deps.db, node.id)).agent?.version ?? "").toBe("");
  });

  test("heartbeats record the pid and a refused build once", async () => {
    const node = await enrollTestNode(hub, "agent-refusal");
    const beat = (failedSha256: string) =>
      node.client.heartbeat({
        bootId: "boot-1",
        agentVersion: "1.0.0",
        agentUpdate: {
          pid: 1,
          failedVersion: "2.0.0",
          failedSha256,
          failedReason: "preflight: exited with code 70",
        },
      });
    await beat("");
    expect((await agents().getNodeAgent({ nodeId: node.id })).agent?.pid).toBe(1);
    await beat("b".repeat(64));
    await beat("b".repeat(64));
    const a = (await agents().getNodeAgent({ nodeId: node.id })).agent;
    expect(a?.lastFailedVersion).toBe("2.0.0");
    expect(a?.lastFailedReason).toBe("preflight: exited with code 70");
    const events = await operatorClient(hub, FleetService).listEvents({
      kindPrefix: "system.agent.update_failed",
      nodeId: node.id,
    });
    expect(events.events).toHaveLength(1);

    // A malformed report is ignored, the heartbeat still accepted.
    const r = await node.client.heartbeat({
      bootId: "boot-1",
      agentVersion: "1.0.0",
      agentUpdate: { pid: 1, failedSha256: "not hex", failedReason: "x" },
    });
    expect(r.nextHeartbeatSeconds).toBeGreaterThan(0);
  });
});
