/**
 * `pnctl agent` against a real hub: publish (push + register, idempotent), builds, set, show, errors;
 * rollout start, status, list, abort.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ProvisionService } from "@powernode/proto";
import { enrollTestNode, operatorClient, startTestHub } from "../../test/harness.ts";
import type { RunningHub } from "../hub.ts";
import { cliFor } from "./test-cli.ts";

let hub: RunningHub;
const dir = mkdtempSync(join(tmpdir(), "pnctl-agent-"));
beforeAll(async () => {
  hub = await startTestHub();
}, 30_000);
afterAll(async () => {
  await hub.stop();
  rmSync(dir, { recursive: true, force: true });
});

const cli = cliFor(() => hub);

describe("pnctl agent", () => {
  test("publish, builds, set, show; --image goes back", async () => {
    const bin = join(dir, "powernode-agent");
    const bytes = Buffer.from(`agent build ${crypto.randomUUID()}`);
    writeFileSync(bin, bytes);
    const sha = createHash("sha256").update(bytes).digest("hex");
    const pub = JSON.parse((await cli("agent", "publish", bin, "--version", "3.1.0", "--json")).out);
    expect(pub).toMatchObject({
      version: "3.1.0",
      arch: "amd64",
      sha256: sha,
      size: bytes.length,
      created: true,
    });
    const again = JSON.parse((await cli("agent", "publish", bin, "--version", "3.1.0", "--json")).out);
    expect(again.created).toBe(false);
    const builds = JSON.parse((await cli("agent", "builds", "--json")).out) as Array<{ version: string }>;
    expect(builds.map((b) => b.version)).toContain("3.1.0");

    const node = await enrollTestNode(hub, "cli-agent");
    const set = JSON.parse((await cli("agent", "set", node.id, "3.1.0", "--json")).out);
    expect(set).toMatchObject({ nodeId: node.id, desiredVersion: "3.1.0" });
    const show = JSON.parse((await cli("agent", "show", node.id, "--json")).out);
    expect(show).toMatchObject({ desiredVersion: "3.1.0", runningVersion: "test" });
    const back = JSON.parse((await cli("agent", "set", node.id, "--image", "--json")).out);
    expect(back.desiredVersion).toBe("(image)");
  });

  test("errors name the problem", async () => {
    const missing = await cli("agent", "publish", join(dir, "nope"), "--version", "1");
    expect(missing.code).toBe(2);
    expect(missing.err).toContain("no such file");
    const noVersion = await cli("agent", "publish", join(dir, "powernode-agent"));
    expect(noVersion.err).toContain("--version is required");
    const node = await enrollTestNode(hub, "cli-agent-err");
    const unknown = await cli("agent", "set", node.id, "9.9.9");
    expect(unknown.code).toBe(1);
    expect(unknown.err).toContain("no agent build 9.9.9 for amd64");
  });

  test("rollout start, status (--json), list, abort", async () => {
    const bin = join(dir, "powernode-agent-rollout");
    writeFileSync(bin, Buffer.from(`agent build ${crypto.randomUUID()}`));
    expect((await cli("agent", "publish", bin, "--version", "3.2.0")).code).toBe(0);
    await operatorClient(hub, ProvisionService).createTemplate({ name: "cli-roll", modules: [] });
    for (const name of ["cli-roll-1", "cli-roll-2"]) {
      const n = await enrollTestNode(hub, name, { template: "cli-roll" });
      await n.client.heartbeat({ bootId: "b", agentVersion: "3.0.0" });
    }
    const started = await cli(
      "agent",
      "rollout",
      "start",
      "cli-roll",
      "3.2.0",
      "--max-failures",
      "1",
      "--json",
    );
    expect(started.code).toBe(0);
    const r = JSON.parse(started.out);
    expect(r).toMatchObject({ template: "cli-roll", version: "3.2.0", state: "running", maxFailures: 1 });
    expect(r.steps.map((s: { node: string; state: string }) => `${s.node}:${s.state}`)).toEqual([
      "cli-roll-1:updating",
      "cli-roll-2:pending",
    ]);

    const text = await cli("agent", "rollout", "status", r.id);
    expect(text.out).toContain("state:");
    expect(text.out).toMatch(/cli-roll-1\s+updating\s+3\.0\.0/);
    const json = JSON.parse((await cli("agent", "rollout", "status", r.id, "--json")).out);
    expect(json.steps[0].fromVersion).toBe("3.0.0");
    const list = await cli("agent", "rollout", "list", "--template", "cli-roll");
    expect(list.out.split("\n")[1]?.split(/\s+/).slice(0, 6)).toEqual([
      r.id,
      "cli-roll",
      "3.2.0",
      "running",
      "0/2",
      "0/1",
    ]);

    const again = await cli("agent", "rollout", "start", "cli-roll", "3.2.0");
    expect(again.code).toBe(1);
    expect(again.err).toContain("has a running rollout");
    const aborted = await cli("agent", "rollout", "abort", r.id);
    expect(aborted.out).toContain("aborted after 1/2");
    expect(JSON.parse((await cli("agent", "rollout", "status", r.id, "--json")).out).state).toBe("aborted");

    expect((await cli("agent", "rollout", "status")).err).toContain("missing <ID>");
    expect(
      (await cli("agent", "rollout", "start", "cli-roll", "3.2.0", "--max-failures", "x")).err,
    ).toContain("--max-failures");
    expect((await cli("agent", "rollout", "frobnicate")).code).toBe(2);
  });
});
