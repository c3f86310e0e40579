/**
 * Module pulls over TLS: the registry's reads on the node (mTLS) listener, verified against the hub CA,
 * and module references pointing there by default.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  fetchBlobToFile,
  fetchManifest,
  MODULE_ARTIFACT_TYPE,
  MODULE_COMPOSEFS_MEDIA_TYPE,
  MODULE_CONFIG_MEDIA_TYPE,
  pushArtifact,
} from "@powernode/oci";
import { assignTestModules, enrollTestNode, startTestHub } from "../../test/harness.ts";
import { getDesiredState } from "../desired-state/index.ts";
import type { RunningHub } from "../hub.ts";
import { moduleRegistryUrl } from "../provision/module-assignments.ts";

const MiB = 1024 * 1024;
let hub: RunningHub;
let dir: string;
/** fetch trusting the hub CA, as the agent's module puller does (node-agent/src/hub/hub-fetch.ts). */
let caFetch: typeof fetch;
beforeAll(async () => {
  hub = await startTestHub();
  dir = mkdtempSync(join(tmpdir(), "pn-oci-mtls-"));
  const ca = hub.caPem;
  caFetch = Object.assign(
    (input: string | URL | Request, init?: RequestInit) =>
      fetch(input, { ...init, tls: { ca } } as RequestInit),
    { preconnect: fetch.preconnect },
  ) as typeof fetch;
}, 30_000);
afterAll(async () => {
  await hub.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("a module pushed on the operator listener is pulled over TLS from the node listener, with resume", async () => {
  const layer = new Uint8Array(24 * MiB).map((_, i) => (i * 7) % 256);
  const layerDigest = `sha256:${new Bun.CryptoHasher("sha256").update(layer).digest("hex")}`;
  const digest = await pushArtifact(
    hub.httpUrl,
    "modules/over-tls",
    "1-amd64",
    {
      artifactType: MODULE_ARTIFACT_TYPE,
      config: { mediaType: MODULE_CONFIG_MEDIA_TYPE, bytes: new TextEncoder().encode('{"name":"over-tls"}') },
      layers: [{ mediaType: MODULE_COMPOSEFS_MEDIA_TYPE, bytes: layer }],
    },
    { token: hub.adminToken },
  );
  expect(hub.mtlsUrl).toStartWith("https://");
  const m = await fetchManifest(hub.mtlsUrl, "modules/over-tls", digest, { fetch: caFetch });
  expect(m.digest).toBe(digest);
  const dest = join(dir, "layer");
  writeFileSync(`${dest}.partial`, layer.subarray(0, 5 * MiB));
  const got = await fetchBlobToFile(hub.mtlsUrl, "modules/over-tls", layerDigest, dest, {
    fetch: caFetch,
    size: layer.length,
  });
  expect(got).toEqual({ digest: layerDigest, size: layer.length, resumedFrom: 5 * MiB });
  expect(statSync(dest).size).toBe(layer.length);
  // Without the hub CA the listener's certificate is not trusted.
  await expect(fetchManifest(hub.mtlsUrl, "modules/over-tls", digest)).rejects.toThrow();
}, 30_000);

test("the node listener takes no pushes (405, the body unread)", async () => {
  const res = await caFetch(`${hub.mtlsUrl}/v2/modules/over-tls/blobs/uploads/`, {
    method: "POST",
    headers: { authorization: `Bearer ${hub.adminToken}` },
  });
  expect(res.status).toBe(405);
  expect(await res.json()).toMatchObject({ errors: [{ code: "UNSUPPORTED" }] });
});

test("module references point at the node listener (https) by default", async () => {
  expect(moduleRegistryUrl(hub.deps.config)).toBe(hub.nodeUrl);
  expect(hub.nodeUrl).toStartWith("https://");
  const node = await enrollTestNode(hub, "refs-https");
  await assignTestModules(hub, node.id, [
    { name: "refs", version: "1", metadataDigest: "a".repeat(64), verityRootHash: "b".repeat(64) },
  ]);
  const state = await getDesiredState(hub.deps.db, node.id);
  expect(state.modules?.assignments[0]?.ociReference).toBe(
    `${hub.nodeUrl}/modules/refs@sha256:${"0".repeat(64)}`,
  );
  expect(moduleRegistryUrl({ moduleRegistryUrl: "http://10.0.2.2:8080", nodeUrl: hub.nodeUrl })).toBe(
    "http://10.0.2.2:8080",
  );
});
