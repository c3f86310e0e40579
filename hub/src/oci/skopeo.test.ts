import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { createExec } from "@powernode/exec";
import {
  MODULE_ARTIFACT_TYPE,
  MODULE_COMPOSEFS_MEDIA_TYPE,
  MODULE_CONFIG_MEDIA_TYPE,
  MODULE_EROFS_BLOB_MEDIA_TYPE,
} from "@powernode/oci";
import { createSkopeo, skopeoCopyArgs, skopeoInspectArgs } from "./skopeo.ts";
import {
  sha256,
  startTestRegistry,
  TEST_TOKEN,
  type TestRegistry,
  tempDir,
  writeOciLayout,
} from "./test-harness.ts";

// Real skopeo is the outside client here (Debian package, listed in scripts/bootstrap.mjs).
const skopeo = createSkopeo(createExec());
let reg: TestRegistry;
let src: AsyncDisposable & { path: string };
beforeAll(async () => {
  // A missing oracle fails the suite with the fix, never a silent skip (docs/conventions.md).
  if (!Bun.which("skopeo")) {
    throw new Error(
      "skopeo not found: it is the outside client of these tests; `npm run setup` installs it (apt)",
    );
  }
  reg = await startTestRegistry();
  src = await tempDir();
});
afterAll(async () => {
  await reg[Symbol.asyncDispose]();
  await src[Symbol.asyncDispose]();
});

const enc = (s: string) => new TextEncoder().encode(s);
const pattern = (n: number, seed: number) => new Uint8Array(n).map((_, i) => (i * 31 + seed) % 256);

/** The manifest digest an OCI layout's index.json points at. */
async function layoutDigest(dir: string): Promise<string | undefined> {
  const index = JSON.parse(await readFile(join(dir, "index.json"), "utf8")) as {
    manifests: { digest: string }[];
  };
  return index.manifests[0]?.digest;
}

describe("skopeo against the registry", () => {
  test("argument builders", () => {
    expect(skopeoInspectArgs("docker://h/r:t", { raw: true, token: "k" })).toEqual([
      "inspect",
      "--tls-verify=false",
      "--raw",
      "--registry-token",
      "k",
      "docker://h/r:t",
    ]);
    expect(skopeoCopyArgs("oci:/a:t", "docker://h/r:t", { destToken: "k", preserveDigests: true })).toEqual([
      "copy",
      "--quiet",
      "--src-tls-verify=false",
      "--dest-tls-verify=false",
      "--preserve-digests",
      "--dest-registry-token",
      "k",
      "oci:/a:t",
      "docker://h/r:t",
    ]);
  });

  test("a push without the token is refused and stores nothing", async () => {
    await writeOciLayout(src.path, "denied", {
      config: { mediaType: MODULE_CONFIG_MEDIA_TYPE, bytes: enc('{"name":"denied"}') },
      layers: [{ mediaType: MODULE_COMPOSEFS_MEDIA_TYPE, bytes: enc("x") }],
      artifactType: MODULE_ARTIFACT_TYPE,
    });
    const err = await skopeo
      .copy(`oci:${src.path}:denied`, `docker://${reg.host}/modules/denied:v1`)
      .catch((e: unknown) => e);
    expect(String(err)).toContain("unauthorized");
    const wrong = await skopeo
      .copy(`oci:${src.path}:denied`, `docker://${reg.host}/modules/denied:v1`, {
        destToken: "not-the-token",
      })
      .catch((e: unknown) => e);
    expect(String(wrong)).toContain("unauthorized");
    expect((await fetch(`${reg.baseUrl}/v2/modules/denied/tags/list`)).status).toBe(404);
  });

  test("basic credentials (any user, the token as password) push like the token does", async () => {
    const digest = await writeOciLayout(src.path, "creds", {
      config: { mediaType: MODULE_CONFIG_MEDIA_TYPE, bytes: enc('{"name":"creds"}') },
      layers: [{ mediaType: MODULE_COMPOSEFS_MEDIA_TYPE, bytes: enc("creds layer") }],
      artifactType: MODULE_ARTIFACT_TYPE,
    });
    await skopeo.copy(`oci:${src.path}:creds`, `docker://${reg.host}/modules/creds:v1`, {
      destCreds: `operator:${TEST_TOKEN}`,
      preserveDigests: true,
    });
    const tags = (await (await fetch(`${reg.baseUrl}/v2/modules/creds/tags/list`)).json()) as {
      tags: string[];
    };
    expect(tags.tags).toEqual(["v1"]);
    const info = JSON.parse(
      (await skopeo.inspect(`docker://${reg.host}/modules/creds:v1`, { raw: true })).stdout,
    );
    expect(info.config.digest).toBe(sha256(enc('{"name":"creds"}')));
    expect(digest).toMatch(/^sha256:/);
    const wrong = await skopeo
      .copy(`oci:${src.path}:creds`, `docker://${reg.host}/modules/creds:v2`, { destCreds: "operator:wrong" })
      .catch((e: unknown) => e);
    expect(String(wrong)).toContain("unauthorized");
  });

  test("a registry limited to modules/ refuses a push elsewhere with DENIED", async () => {
    await using limited = await startTestRegistry({ repositories: ["modules/"] });
    await writeOciLayout(src.path, "elsewhere", {
      config: { mediaType: MODULE_CONFIG_MEDIA_TYPE, bytes: enc('{"name":"elsewhere"}') },
      layers: [{ mediaType: MODULE_COMPOSEFS_MEDIA_TYPE, bytes: enc("y") }],
      artifactType: MODULE_ARTIFACT_TYPE,
    });
    const err = await skopeo
      .copy(`oci:${src.path}:elsewhere`, `docker://${limited.host}/other/thing:v1`, { destToken: TEST_TOKEN })
      .catch((e: unknown) => e);
    expect(String(err)).toMatch(/denied/i);
    const res = await fetch(`${limited.baseUrl}/v2/other/thing/blobs/uploads/`, {
      method: "POST",
      headers: { authorization: `Bearer ${TEST_TOKEN}` },
    });
    expect(res.status).toBe(403);
    const body = (await res.json()) as { errors: { code: string; message: string }[] };
    expect(body.errors[0]?.code).toBe("DENIED");
    expect(body.errors[0]?.message).toContain("modules/");
    await skopeo.copy(`oci:${src.path}:elsewhere`, `docker://${limited.host}/modules/thing:v1`, {
      destToken: TEST_TOKEN,
    });
  });

  test("an image: copy in with the token, inspect, copy back out with the same digests", async () => {
    const layer = pattern(200_000, 1);
    const config = enc(
      JSON.stringify({
        architecture: "amd64",
        os: "linux",
        rootfs: { type: "layers", diff_ids: [sha256(layer)] },
      }),
    );
    const digest = await writeOciLayout(src.path, "img", {
      config: { mediaType: "application/vnd.oci.image.config.v1+json", bytes: config },
      layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", bytes: layer }],
    });
    const ref = `docker://${reg.host}/library/img:v1`;
    await skopeo.copy(`oci:${src.path}:img`, ref, { destToken: TEST_TOKEN, preserveDigests: true });

    const info = JSON.parse((await skopeo.inspect(ref)).stdout) as {
      Digest: string;
      RepoTags: string[];
      Layers: string[];
    };
    expect(info.Digest).toBe(digest);
    expect(info.RepoTags).toEqual(["v1"]);
    expect(info.Layers).toEqual([sha256(layer)]);

    await using out = await tempDir();
    await skopeo.copy(ref, `oci:${out.path}:v1`, { preserveDigests: true });
    expect(await layoutDigest(out.path)).toBe(digest);
    expect(new Uint8Array(await readFile(join(out.path, "blobs", "sha256", sha256(layer).slice(7))))).toEqual(
      layer,
    );
  });

  test("an image converted to Docker v2 schema 2 by skopeo is stored and served as such", async () => {
    const layer = pattern(50_000, 5);
    const config = enc(
      JSON.stringify({
        architecture: "arm64",
        os: "linux",
        rootfs: { type: "layers", diff_ids: [sha256(layer)] },
      }),
    );
    await writeOciLayout(src.path, "docker", {
      config: { mediaType: "application/vnd.oci.image.config.v1+json", bytes: config },
      layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", bytes: layer }],
    });
    const ref = `docker://${reg.host}/library/docker:v2`;
    await skopeo.copy(`oci:${src.path}:docker`, ref, { destToken: TEST_TOKEN, format: "v2s2" });
    const raw = JSON.parse((await skopeo.inspect(ref, { raw: true })).stdout) as { mediaType: string };
    expect(raw.mediaType).toBe("application/vnd.docker.distribution.manifest.v2+json");
    const info = JSON.parse((await skopeo.inspect(ref)).stdout) as { Architecture: string };
    expect(info.Architecture).toBe("arm64");
  });

  test("a powernode module artifact round-trips byte for byte", async () => {
    const cfs = pattern(50_000, 2);
    const blob = pattern(400_000, 3);
    const digest = await writeOciLayout(src.path, "mod", {
      artifactType: MODULE_ARTIFACT_TYPE,
      config: { mediaType: MODULE_CONFIG_MEDIA_TYPE, bytes: enc('{"name":"base","version":"1.0.0"}') },
      layers: [
        { mediaType: MODULE_COMPOSEFS_MEDIA_TYPE, bytes: cfs },
        { mediaType: MODULE_EROFS_BLOB_MEDIA_TYPE, bytes: blob },
      ],
    });
    const ref = `docker://${reg.host}/modules/base:1.0.0`;
    await skopeo.copy(`oci:${src.path}:mod`, ref, { destToken: TEST_TOKEN, preserveDigests: true });

    const raw = (await skopeo.inspect(ref, { raw: true })).stdout;
    expect(sha256(raw)).toBe(digest);
    expect(JSON.parse(raw).artifactType).toBe(MODULE_ARTIFACT_TYPE);

    await using out = await tempDir();
    await skopeo.copy(ref, `oci:${out.path}:1.0.0`, { preserveDigests: true });
    expect(await layoutDigest(out.path)).toBe(digest);
    for (const b of [cfs, blob]) {
      expect(new Uint8Array(await readFile(join(out.path, "blobs", "sha256", sha256(b).slice(7))))).toEqual(
        b,
      );
    }
  });

  test("a 150 MiB module blob goes through skopeo (one streamed PATCH, over Bun's 128 MiB default)", async () => {
    await using big = await tempDir();
    const MiB = 1024 * 1024;
    const blob = new Uint8Array(150 * MiB);
    const unit = pattern(MiB, 4);
    for (let i = 0; i < 150; i++) {
      unit[0] = i;
      blob.set(unit, i * MiB);
    }
    const digest = await writeOciLayout(big.path, "big", {
      artifactType: MODULE_ARTIFACT_TYPE,
      config: { mediaType: MODULE_CONFIG_MEDIA_TYPE, bytes: enc('{"name":"big"}') },
      layers: [{ mediaType: MODULE_EROFS_BLOB_MEDIA_TYPE, bytes: blob }],
    });
    const ref = `docker://${reg.host}/modules/big:1`;
    await skopeo.copy(`oci:${big.path}:big`, ref, { destToken: TEST_TOKEN, preserveDigests: true });
    const patches = reg.requests.filter((r) => r.method === "PATCH" && r.path.startsWith("/v2/modules/big/"));
    expect(patches.length).toBe(2); // the config and the 150 MiB blob, one PATCH each
    await using out = await tempDir();
    await skopeo.copy(ref, `oci:${out.path}:1`, { preserveDigests: true });
    expect(await layoutDigest(out.path)).toBe(digest);
    const copied = Bun.file(join(out.path, "blobs", "sha256", sha256(blob).slice(7)));
    expect(copied.size).toBe(blob.length);
  }, 30_000);
});
