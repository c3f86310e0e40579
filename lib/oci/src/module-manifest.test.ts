import { expect, test } from "bun:test";
import { type ModuleManifest, parseModuleManifest } from "./module-manifest.ts";

const h = (c: string) => c.repeat(64);
const good: ModuleManifest = {
  schemaVersion: 1,
  name: "nginx-light",
  version: "1.22.1-9",
  arch: "amd64",
  priority: 50,
  services: [{ name: "nginx", exec: ["/usr/sbin/nginx", "-g", "daemon off;"] }],
  metadataDigest: h("a"),
  verityRootHash: h("b"),
  veritySalt: "00ff",
  verityDataBlocks: 12,
  sizes: { metadata: 1, blob: 2, verity: 3 },
  sha256: { metadata: h("c"), blob: h("d"), verity: h("e") },
  source: { debian: "nginx-light=1.22.1-9" },
};

test("accepts a valid manifest", () => {
  expect(parseModuleManifest(JSON.parse(JSON.stringify(good)))).toEqual({ ok: true, value: good });
});

test("names every bad field", () => {
  const bad = {
    ...good,
    name: "Bad_Name",
    metadataDigest: "xyz",
    services: [{ name: "x", exec: ["nginx"] }],
  };
  const r = parseModuleManifest(bad);
  expect(r.ok).toBe(false);
  if (!r.ok) {
    expect(r.error).toContain("name: invalid");
    expect(r.error).toContain("metadataDigest: invalid");
    expect(r.error).toContain("services[0].exec[0]: must be an absolute path");
  }
});

test("rejects non-objects", () => {
  expect(parseModuleManifest([])).toEqual({ ok: false, error: "module manifest: not a JSON object" });
  expect(parseModuleManifest(null).ok).toBe(false);
});
