/** `pnctl agent` against a real hub: publish (push + register, idempotent), builds, set, show, errors. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { enrollTestNode, startTestHub } from "../../test/harness.ts";
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
});
