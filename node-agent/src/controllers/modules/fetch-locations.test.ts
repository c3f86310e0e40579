/**
 * Pull locations against a stock registry: Debian's docker-registry (distribution v2) with htpasswd
 * auth as the origin, the hub's registry (its test double) as the fallback. The credential is what the
 * hub would hand the node (RegistryNodeService); every byte is checked by digest wherever it came from.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import {
  createRegistryFetch,
  MODULE_ARTIFACT_TYPE,
  MODULE_COMPOSEFS_MEDIA_TYPE,
  MODULE_CONFIG_MEDIA_TYPE,
  MODULE_EROFS_BLOB_MEDIA_TYPE,
  MODULE_VERITY_HASHTREE_MEDIA_TYPE,
  type ModuleManifest,
  pushArtifact,
  type RegistryCredential,
} from "@powernode/oci";
import { ModuleAssignmentSchema } from "@powernode/proto";
import { type DockerRegistry, startDockerRegistry } from "../../../../scripts/lib/docker-registry.ts";
import {
  type OciRegistryFake,
  publishModuleFake,
  startOciRegistryFake,
} from "../../../test/oci-registry-fake.ts";
import { fetchModule, type ModuleFetchError } from "./fetch-module.ts";

const hex = (c: string) => c.repeat(64);
const rnd = (n: number) => crypto.getRandomValues(new Uint8Array(n));
const files = { metadata: rnd(5000), blob: rnd(3 * 4096), verity: rnd(8192) };
const manifest: ModuleManifest = {
  schemaVersion: 1,
  name: "web",
  version: "1.0",
  arch: "amd64",
  priority: 10,
  services: [],
  metadataDigest: hex("a"),
  verityRootHash: hex("b"),
  veritySalt: "00",
  verityDataBlocks: 3,
  sizes: { metadata: 5000, blob: 12288, verity: 8192 },
  sha256: { metadata: hex("1"), blob: hex("2"), verity: hex("3") },
  source: { dir: "test" },
};
const GOOD: RegistryCredential = { kind: "basic", username: "node-puller", password: "pull-secret" };

let work: string;
let reg: DockerRegistry;
let hub: OciRegistryFake;
let digest: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "pn-locations-"));
  reg = await startDockerRegistry({ dir: join(work, "registry"), users: { "node-puller": "pull-secret" } });
  hub = startOciRegistryFake();
  // The hub's copy first (its manifest bytes are the artifact), then the same artifact pushed to the
  // stock registry with the basic credential, as `pnctl module publish --registry` does.
  const copy = publishModuleFake(hub, "modules/web", manifest, files);
  digest = await pushArtifact(
    reg.url,
    "modules/web",
    "1.0-amd64",
    {
      artifactType: MODULE_ARTIFACT_TYPE,
      config: {
        mediaType: MODULE_CONFIG_MEDIA_TYPE,
        bytes: new TextEncoder().encode(JSON.stringify(manifest)),
      },
      layers: [
        { mediaType: MODULE_COMPOSEFS_MEDIA_TYPE, bytes: files.metadata },
        { mediaType: MODULE_EROFS_BLOB_MEDIA_TYPE, bytes: files.blob },
        { mediaType: MODULE_VERITY_HASHTREE_MEDIA_TYPE, bytes: files.verity },
      ],
    },
    { fetch: createRegistryFetch({ credential: () => GOOD }) },
  );
  expect(digest).toBe(copy.manifestDigest);
}, 60_000);
afterAll(async () => {
  await reg?.stop();
  hub?.stop();
  rmSync(work, { recursive: true, force: true });
});

const assignment = (roles: ("origin" | "hub")[]) =>
  create(ModuleAssignmentSchema, {
    name: "web",
    version: "1.0",
    priority: 10,
    metadataDigest: hex("a"),
    verityRootHash: hex("b"),
    locations: roles.map((role) =>
      role === "origin"
        ? { ociReference: `${reg.url}/modules/web@${digest}`, role, credentialHost: reg.host }
        : { ociReference: `${hub.baseUrl}/modules/web@${digest}`, role, credentialHost: "" },
    ),
  });

function fetchInto(roles: ("origin" | "hub")[], credential: RegistryCredential | undefined) {
  const dir = mkdtempSync(join(work, "node-"));
  const asked: string[] = [];
  return {
    asked,
    run: () =>
      fetchModule({
        assignment: assignment(roles),
        modulesDir: dir,
        arch: "amd64",
        pullCredential: async (host, repository) => {
          asked.push(`${host} ${repository}`);
          return credential;
        },
      }),
  };
}

test("with the delivered credential the origin serves the module, verified", async () => {
  const f = fetchInto(["origin", "hub"], GOOD);
  const hubBefore = hub.requests.length;
  const got = await f.run();
  expect(got.source).toEqual({ role: "origin", reference: `${reg.url}/modules/web`, skipped: [] });
  expect(new Uint8Array(readFileSync(got.blob))).toEqual(files.blob);
  expect(f.asked).toEqual([`${reg.host} modules/web`]);
  expect(hub.requests.length).toBe(hubBefore);
});

test("a wrong credential: the origin's 401 is named, and the hub's copy serves", async () => {
  const f = fetchInto(["origin", "hub"], { kind: "basic", username: "node-puller", password: "wrong" });
  const got = await f.run();
  expect(got.source?.role).toBe("hub");
  expect(got.source?.skipped).toHaveLength(1);
  expect(got.source?.skipped[0]).toStartWith(`origin ${reg.url}: `);
  expect(got.source?.skipped[0]).toContain("HTTP 401");
  // Without the hub's copy the module fails as denied (retried later, the operator may fix it).
  const only = await fetchInto(["origin"], { kind: "basic", username: "x", password: "y" })
    .run()
    .catch((e: unknown) => e as ModuleFetchError);
  expect((only as ModuleFetchError).reason).toBe("denied");
  expect((only as ModuleFetchError).message).toContain(`origin ${reg.url}`);
  expect((only as ModuleFetchError).message).toContain("HTTP 401");
});

test("a digest no location has is missing; an unknown repository at the origin too", async () => {
  const a = create(ModuleAssignmentSchema, {
    ...assignment(["origin", "hub"]),
    locations: assignment(["origin", "hub"]).locations.map((l) => ({
      ...l,
      ociReference: l.ociReference.replace(digest, `sha256:${hex("e")}`),
    })),
  });
  const err = (await fetchModule({
    assignment: a,
    modulesDir: mkdtempSync(join(work, "node-")),
    arch: "amd64",
    pullCredential: async () => GOOD,
  }).catch((e: unknown) => e)) as ModuleFetchError;
  expect(err.reason).toBe("missing");
  expect(err.message).toContain("no location served it");
});

test("with the registry stopped the node falls back to the hub's copy", async () => {
  await reg.stop();
  try {
    const got = await fetchInto(["origin", "hub"], GOOD).run();
    expect(got.source?.role).toBe("hub");
    expect(got.source?.skipped[0]).toStartWith(`origin ${reg.url}: `);
    const only = (await fetchInto(["origin"], GOOD)
      .run()
      .catch((e: unknown) => e)) as ModuleFetchError;
    expect(only.reason).toBe("transient");
  } finally {
    await reg.start();
  }
});
