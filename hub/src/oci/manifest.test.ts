import { describe, expect, test } from "bun:test";
import { DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST, parseManifest } from "./manifest.ts";

const D1 = `sha256:${"1".repeat(64)}`;
const D2 = `sha256:${"2".repeat(64)}`;
const enc = (v: unknown) => new TextEncoder().encode(typeof v === "string" ? v : JSON.stringify(v));
const image = (extra: Record<string, unknown> = {}) => ({
  schemaVersion: 2,
  mediaType: OCI_MANIFEST,
  config: { mediaType: "application/vnd.powernode.module.config.v1+json", digest: D1, size: 10 },
  layers: [{ mediaType: "application/vnd.powernode.composefs.v1", digest: D2, size: 20 }],
  ...extra,
});

describe("parseManifest", () => {
  test("an OCI image manifest lists config and layers as blobs", () => {
    const r = parseManifest(enc(image()), OCI_MANIFEST);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.mediaType).toBe(OCI_MANIFEST);
    expect(r.value.blobs.map((b) => [b.digest.text, b.size])).toEqual([
      [D1, 10],
      [D2, 20],
    ]);
    expect(r.value.manifests).toEqual([]);
  });

  test("the body's mediaType decides when Content-Type is generic", () => {
    const r = parseManifest(enc(image()), "application/octet-stream");
    expect(r.ok && r.value.mediaType).toBe(OCI_MANIFEST);
  });

  test("an index lists child manifests; Docker schema2 is accepted", () => {
    const idx = parseManifest(
      enc({
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: [{ mediaType: OCI_MANIFEST, digest: D1, size: 5 }],
      }),
      OCI_INDEX,
    );
    expect(idx.ok && idx.value.manifests.map((m) => m.digest.text)).toEqual([D1]);
    const docker = parseManifest(enc(image({ mediaType: DOCKER_MANIFEST })), DOCKER_MANIFEST);
    expect(docker.ok).toBe(true);
  });

  test.each([
    ["not JSON", "{", OCI_MANIFEST, "not UTF-8 JSON"],
    ["invalid UTF-8", new Uint8Array([0x7b, 0xff, 0x7d]), OCI_MANIFEST, "not UTF-8 JSON"],
    ["an array", [], OCI_MANIFEST, "not a JSON object"],
    ["schemaVersion 1", image({ schemaVersion: 1 }), OCI_MANIFEST, "schemaVersion must be 2"],
    [
      "unknown media type",
      image({ mediaType: "text/plain" }),
      "text/plain",
      "unsupported manifest media type",
    ],
    ["type disagreeing with Content-Type", image(), DOCKER_MANIFEST, "does not match Content-Type"],
    ["no layers", image({ layers: undefined }), OCI_MANIFEST, "no layers array"],
    [
      "config without digest",
      image({ config: { mediaType: "x", size: 1 } }),
      OCI_MANIFEST,
      "config.digest is missing",
    ],
    [
      "layer with md5 digest",
      image({ layers: [{ mediaType: "x", digest: "md5:abcd", size: 1 }] }),
      OCI_MANIFEST,
      "layers[0].digest",
    ],
    [
      "negative size",
      image({ layers: [{ mediaType: "x", digest: D1, size: -1 }] }),
      OCI_MANIFEST,
      "layers[0].size",
    ],
    ["non-string annotation", image({ annotations: { a: 1 } }), OCI_MANIFEST, "annotations"],
    ["index without manifests", { schemaVersion: 2, mediaType: OCI_INDEX }, OCI_INDEX, "no manifests array"],
  ] as const)("rejects %s", (_what, body, ct, message) => {
    const r = parseManifest(body instanceof Uint8Array ? body : enc(body), ct);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toContain(message);
  });
});
