import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import {
  fetchManifest,
  MODULE_ARTIFACT_TYPE,
  MODULE_COMPOSEFS_MEDIA_TYPE,
  MODULE_CONFIG_MEDIA_TYPE,
  MODULE_EROFS_BLOB_MEDIA_TYPE,
  MODULE_VERITY_HASHTREE_MEDIA_TYPE,
  parseModuleManifest,
} from "@powernode/oci";
import { Arch, CveService } from "@powernode/proto";
import { type BuiltModule, buildModule } from "./build-module.ts";
import { buildRecipe } from "./build-recipe.ts";
import { catalogClient, loadBuiltModule, moduleTag, PublishError, publishModule } from "./publish.ts";
import { loadRecipe, recipePath } from "./recipe.ts";
import { SBOM_ARTIFACT_TYPE } from "./sbom.ts";
import { sourcePackages } from "./source-packages.ts";
import { type PublishEnv, startPublishEnv } from "./test-env.ts";

const work = mkdtempSync(join(tmpdir(), "pn-publish-test-"));
let env: PublishEnv;
let v1: BuiltModule;

async function buildHello(content: string, outName: string, version = "1.0.0+pn1"): Promise<BuiltModule> {
  const src = join(work, `src-${outName}`);
  mkdirSync(join(src, "usr/bin"), { recursive: true });
  writeFileSync(join(src, "usr/bin/hello"), `#!/bin/sh\necho ${content} ${"padding ".repeat(20)}\n`, {
    mode: 0o755,
  });
  return buildModule({
    source: { dir: src },
    name: "hello",
    version,
    arch: "amd64",
    priority: 10,
    services: [{ name: "hello", exec: ["/usr/bin/hello"] }],
    outDir: join(work, outName),
  });
}

beforeAll(async () => {
  env = await startPublishEnv();
  v1 = await buildHello("one", "v1");
}, 60_000);
afterAll(async () => {
  await env?.[Symbol.asyncDispose]();
  rmSync(work, { recursive: true, force: true });
});

describe("publishModule (real hub + real registry)", () => {
  test("pushes the artifact to modules/<name>:<version>-<arch> and records the catalog rows", async () => {
    const target = {
      registryUrl: env.registryUrl,
      hubUrl: env.hub.httpUrl,
      token: env.token,
      description: "test",
    };
    const r = await publishModule(v1, target);
    expect(r).toMatchObject({
      repository: "modules/hello",
      tag: "1.0.0_pn1-amd64",
      created: true,
      moduleCreated: true,
    });
    expect(r.ociDigest).toMatch(/^sha256:[0-9a-f]{64}$/);

    const m = await fetchManifest(env.registryUrl, "modules/hello", moduleTag("1.0.0+pn1", "amd64"));
    expect(m.digest).toBe(r.ociDigest);
    const json = m.json as {
      artifactType: string;
      config: { mediaType: string; digest: string };
      layers: { mediaType: string; size: number }[];
      annotations: Record<string, string>;
    };
    expect(json.artifactType).toBe(MODULE_ARTIFACT_TYPE);
    expect(json.config.mediaType).toBe(MODULE_CONFIG_MEDIA_TYPE);
    expect(json.layers.map((l) => l.mediaType)).toEqual([
      MODULE_COMPOSEFS_MEDIA_TYPE,
      MODULE_EROFS_BLOB_MEDIA_TYPE,
      MODULE_VERITY_HASHTREE_MEDIA_TYPE,
    ]);
    expect(json.layers.map((l) => l.size)).toEqual([
      v1.manifest.sizes.metadata,
      v1.manifest.sizes.blob,
      v1.manifest.sizes.verity,
    ]);
    expect(json.annotations["org.opencontainers.image.version"]).toBe("1.0.0+pn1");
    // The config blob is the module manifest, and the agent's parser accepts it.
    const cfg = await fetch(`${env.registryUrl}/v2/modules/hello/blobs/${json.config.digest}`);
    const parsed = parseModuleManifest(await cfg.json());
    expect(parsed.ok ? parsed.value : parsed.error).toEqual(v1.manifest);

    const got = await catalogClient(env.hub.httpUrl, env.token).getModule({ name: "hello" });
    expect(got.module).toMatchObject({ name: "hello", priority: 10, description: "test" });
    expect(got.versions).toHaveLength(1);
    expect(got.versions[0]).toMatchObject({
      version: "1.0.0+pn1",
      arch: Arch.AMD64,
      fsverityDigest: v1.manifest.metadataDigest,
      verityRootHash: v1.manifest.verityRootHash,
      ociDigest: r.ociDigest,
      metadataSize: BigInt(v1.manifest.sizes.metadata),
      blobSize: BigInt(v1.manifest.sizes.blob),
    });
  }, 30_000);

  test("publishing the same build again (also read back from its directory) is a no-op success", async () => {
    const target = { registryUrl: env.registryUrl, hubUrl: env.hub.httpUrl, token: env.token };
    const again = await publishModule(loadBuiltModule(join(work, "v1")), target);
    expect(again).toMatchObject({ created: false, moduleCreated: false });
    const versions = (await catalogClient(env.hub.httpUrl, env.token).getModule({ name: "hello" })).versions;
    expect(versions).toHaveLength(1);
    expect(again.ociDigest).toBe(versions[0]?.ociDigest ?? "");
  }, 30_000);

  test("a different build under the same version is refused before anything moves", async () => {
    const target = { registryUrl: env.registryUrl, hubUrl: env.hub.httpUrl, token: env.token };
    const before = await fetchManifest(env.registryUrl, "modules/hello", "1.0.0_pn1-amd64");
    const other = await buildHello("two", "v1-other");
    const err = await publishModule(other, target).catch((e) => e);
    expect(err).toBeInstanceOf(PublishError);
    expect(String(err.message)).toContain(
      "hello 1.0.0+pn1 (amd64) is already published with different content",
    );
    const after = await fetchManifest(env.registryUrl, "modules/hello", "1.0.0_pn1-amd64");
    expect(after.digest).toBe(before.digest); // the tag still points at the recorded build
    // Under a new version it publishes.
    const v2 = await buildHello("two", "v2", "1.0.0+pn2");
    expect((await publishModule(v2, target)).created).toBe(true);
    expect(
      (await catalogClient(env.hub.httpUrl, env.token).getModule({ name: "hello" })).versions,
    ).toHaveLength(2);
  }, 30_000);

  test("a damaged build directory and a wrong token are refused with clear errors", async () => {
    const target = { registryUrl: env.registryUrl, hubUrl: env.hub.httpUrl, token: env.token };
    const dir = join(work, "damaged");
    const b = await buildHello("three", "damaged", "3.0");
    appendFileSync(b.files.metadata, "x");
    await expect(publishModule(loadBuiltModule(dir), target)).rejects.toThrow(
      "hello: metadata file(s) do not match module.json sha256",
    );
    writeFileSync(
      join(dir, "module.json"),
      JSON.stringify({ ...JSON.parse(readFileSync(join(dir, "module.json"), "utf8")), arch: "x" }),
    );
    expect(() => loadBuiltModule(dir)).toThrow("arch: must be amd64 or arm64");
    const fresh = await buildHello("four", "four", "4.0");
    await expect(publishModule(fresh, { ...target, token: "pna_wrong" })).rejects.toThrow(
      /Unauthenticated|rejected|token/i,
    );
  }, 30_000);

  test("the in-tree nginx-light recipe (amd64, real Debian packages) publishes and is catalogued", async () => {
    const b = await buildRecipe(loadRecipe(recipePath("nginx-light")), "amd64", join(work, "nginx"));
    const target = { registryUrl: env.registryUrl, hubUrl: env.hub.httpUrl, token: env.token };
    const r = await publishModule(b, target);
    expect(r.tag).toBe(`${b.manifest.version.replaceAll("+", "_")}-amd64`);
    const m = await fetchManifest(env.registryUrl, "modules/nginx-light", r.ociDigest);
    expect((m.json as { layers: { size: number }[] }).layers[1]?.size).toBe(b.manifest.sizes.blob);
    const v = (await catalogClient(env.hub.httpUrl, env.token).getModule({ name: "nginx-light" })).versions;
    expect(v.map((x) => [x.version, x.fsverityDigest, x.verityRootHash, x.ociDigest])).toEqual([
      [b.manifest.version, b.manifest.metadataDigest, b.manifest.verityRootHash, r.ociDigest],
    ]);

    // Its SBOM: one SPDX 2.3 referrer listing exactly the build's packages.
    const index = (await (
      await fetch(`${env.registryUrl}/v2/modules/nginx-light/referrers/${r.ociDigest}`, {
        headers: { authorization: `Bearer ${env.token}` },
      })
    ).json()) as { manifests: { digest: string; artifactType: string }[] };
    expect(index.manifests.map((x) => x.artifactType)).toEqual([SBOM_ARTIFACT_TYPE]);
    const sbomManifest = await fetchManifest(
      env.registryUrl,
      "modules/nginx-light",
      index.manifests[0]?.digest ?? "",
      {
        token: env.token,
      },
    );
    const layer = (sbomManifest.json as { layers: { digest: string }[] }).layers[0]?.digest ?? "";
    const doc = (await (
      await fetch(`${env.registryUrl}/v2/modules/nginx-light/blobs/${layer}`, {
        headers: { authorization: `Bearer ${env.token}` },
      })
    ).json()) as { spdxVersion: string; packages: { name: string; versionInfo: string }[] };
    expect(doc.spdxVersion).toBe("SPDX-2.3");
    const listed = sourcePackages(b.manifest.source);
    expect(listed.map((x) => x.name)).toContain("nginx");
    expect(doc.packages.slice(1).map((x) => `${x.name}=${x.versionInfo}`)).toEqual(
      listed.map((x) => `${x.name}=${x.version}`),
    );

    // A CVE drill on the real list: a range around nginx's exact version finds exactly nginx-light.
    const nginx = listed.find((x) => x.name === "nginx")?.version ?? "";
    const cves = createClient(
      CveService,
      createConnectTransport({
        baseUrl: env.hub.httpUrl,
        httpVersion: "1.1",
        interceptors: [
          (next) => (req) => {
            req.header.set("authorization", `Bearer ${env.token}`);
            return next(req);
          },
        ],
      }),
    );
    await cves.putCve({
      cve: { id: "CVE-2026-0002", severity: "high", affected: [{ package: "nginx", range: `<= ${nginx}` }] },
    });
    const drilled = await cves.drillCve({ id: "CVE-2026-0002" });
    expect(drilled.exposures.map((e) => `${e.module} ${e.installedVersion}`)).toEqual([
      `nginx-light ${nginx}`,
    ]);
    await cves.putCve({
      cve: { id: "CVE-2026-0002", severity: "high", affected: [{ package: "nginx", range: `<< ${nginx}` }] },
    });
    expect((await cves.drillCve({ id: "CVE-2026-0002" })).exposures).toEqual([]);
  }, 60_000);
});
