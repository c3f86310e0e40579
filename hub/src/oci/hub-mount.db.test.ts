import { afterAll, beforeAll, expect, test } from "bun:test";
import { createExec } from "@powernode/exec";
import {
  fetchManifest,
  MODULE_ARTIFACT_TYPE,
  MODULE_COMPOSEFS_MEDIA_TYPE,
  MODULE_CONFIG_MEDIA_TYPE,
  pushArtifact,
} from "@powernode/oci";
import { startTestHub } from "../../test/harness.ts";
import type { RunningHub } from "../hub.ts";
import { createSkopeo } from "./skopeo.ts";

// The registry as the hub serves it: on the operator listener at /v2/, pushes need the operator token.
let hub: RunningHub;
beforeAll(async () => {
  hub = await startTestHub();
}, 30_000);
afterAll(async () => {
  await hub.stop();
});

const enc = (s: string) => new TextEncoder().encode(s);
const artifact = {
  artifactType: MODULE_ARTIFACT_TYPE,
  config: { mediaType: MODULE_CONFIG_MEDIA_TYPE, bytes: enc('{"name":"demo"}') },
  layers: [{ mediaType: MODULE_COMPOSEFS_MEDIA_TYPE, bytes: enc("metadata image bytes") }],
};

test("pushing a module artifact needs the operator token", async () => {
  await expect(
    pushArtifact(hub.httpUrl, "modules/demo", "1-amd64", artifact, { token: "wrong-token-123456" }),
  ).rejects.toThrow(/401|UNAUTHORIZED/);
});

test("the hub serves pushed modules: fetchManifest and skopeo inspect see the same manifest", async () => {
  const digest = await pushArtifact(hub.httpUrl, "modules/demo", "1-amd64", artifact, {
    token: hub.adminToken,
  });
  const m = await fetchManifest(hub.httpUrl, "modules/demo", digest);
  expect(m.digest).toBe(digest);
  const host = new URL(hub.httpUrl).host;
  const out = await createSkopeo(createExec()).inspect(`docker://${host}/modules/demo:1-amd64`, {
    raw: true,
  });
  const raw = JSON.parse(out.stdout) as { artifactType?: string; layers: Array<{ mediaType: string }> };
  expect(raw.artifactType).toBe(MODULE_ARTIFACT_TYPE);
  expect(raw.layers.map((l) => l.mediaType)).toEqual([MODULE_COMPOSEFS_MEDIA_TYPE]);
});
