import { afterEach, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { buildModuleImages, fromHex, verifyVerity } from "@powernode/composefs";
import type { ModuleManifest } from "@powernode/oci";
import { ModuleAssignmentSchema } from "@powernode/proto";
import {
  type OciRegistryFake,
  publishModuleFake,
  startOciRegistryFake,
} from "../../../test/oci-registry-fake.ts";
import { createTestCa } from "../../../test/test-ca.ts";
import { createHubFetch } from "../../hub/hub-fetch.ts";
import { createModuleSys } from "../../sys/module-sys.ts";
import { assignmentProblems, overlayOptions, parseOciReference } from "./assignment.ts";
import { fetchModule, ModuleFetchError } from "./fetch-module.ts";

const hex = (c: string) => c.repeat(64);
const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

function files() {
  const rnd = (n: number) => crypto.getRandomValues(new Uint8Array(n));
  return { metadata: rnd(5000), blob: rnd(3 * 4096), verity: rnd(8192) };
}

function manifest(over: Partial<ModuleManifest> = {}): ModuleManifest {
  return {
    schemaVersion: 1,
    name: "web",
    version: "1.0",
    arch: "amd64",
    priority: 10,
    services: [{ name: "httpd", exec: ["/bin/busybox", "httpd", "-f"] }],
    metadataDigest: hex("a"),
    verityRootHash: hex("b"),
    veritySalt: "00",
    verityDataBlocks: 3,
    sizes: { metadata: 5000, blob: 12288, verity: 8192 },
    sha256: { metadata: hex("1"), blob: hex("2"), verity: hex("3") },
    source: { dir: "test" },
    ...over,
  };
}

function env(): { reg: OciRegistryFake; dir: string } {
  const reg = startOciRegistryFake();
  const dir = mkdtempSync(join(tmpdir(), "pn-fetch-"));
  cleanup.push(
    () => reg.stop(),
    () => rmSync(dir, { recursive: true, force: true }),
  );
  return { reg, dir };
}

const assign = (ociReference: string, over: Record<string, string> = {}) =>
  create(ModuleAssignmentSchema, {
    name: "web",
    version: "1.0",
    priority: 10,
    ociReference,
    metadataDigest: hex("a"),
    verityRootHash: hex("b"),
    ...over,
  });

test("parseOciReference: base URL, repository, digest; bad ones say why", () => {
  expect(parseOciReference(`http://10.0.2.2:8080/modules/nginx-light@sha256:${hex("c")}`)).toEqual({
    ok: true,
    value: {
      baseUrl: "http://10.0.2.2:8080",
      repository: "modules/nginx-light",
      digest: `sha256:${hex("c")}`,
    },
  });
  expect(parseOciReference("http://h/modules/x:latest")).toMatchObject({ ok: false });
  expect(parseOciReference(`ftp://h/x@sha256:${hex("c")}`)).toMatchObject({ ok: false });
  expect(parseOciReference(`http://h/UPPER@sha256:${hex("c")}`)).toMatchObject({ ok: false });
  expect(parseOciReference(`http://h/x@sha256:${hex("C")}`)).toMatchObject({ ok: false });
  expect(assignmentProblems(assign("nope", { name: "Bad_Name", metadataDigest: "12" }))).toEqual([
    'name "Bad_Name" is not [a-z0-9-]',
    "metadata_digest is not 64 hex",
    'oci_reference "nope": no @sha256: digest',
  ]);
});

test("overlayOptions refuses paths that would split the option string", () => {
  expect(() =>
    overlayOptions({ metadataDirs: ["/a:b"], dataDirs: [], upperDir: "/u", workDir: "/w" }),
  ).toThrow(RangeError);
  expect(() => overlayOptions({ metadataDirs: [], dataDirs: [], upperDir: "/u", workDir: "/w" })).toThrow(
    RangeError,
  );
});

test("downloads manifest, config and 3 layers from the registry, sha256-checked, into <name>/<manifest hex>/", async () => {
  const { reg, dir } = env();
  const f = files();
  const pub = publishModuleFake(reg, "modules/web", manifest(), f);
  const got = await fetchModule({ assignment: assign(pub.ociReference), modulesDir: dir, arch: "amd64" });
  expect(got.dir).toBe(join(dir, "web", pub.manifestDigest.slice(7)));
  expect(new Uint8Array(readFileSync(got.metadata))).toEqual(f.metadata);
  expect(new Uint8Array(readFileSync(got.blob))).toEqual(f.blob);
  expect(new Uint8Array(readFileSync(got.verity))).toEqual(f.verity);
  expect(got.manifest.services[0]?.exec).toEqual(["/bin/busybox", "httpd", "-f"]);
  expect(reg.requests).toHaveLength(5);
  // Complete files are not fetched again.
  await fetchModule({ assignment: assign(pub.ociReference), modulesDir: dir, arch: "amd64" });
  expect(reg.requests).toHaveLength(6);
});

test("a partial download resumes with Range", async () => {
  const { reg, dir } = env();
  const f = files();
  const pub = publishModuleFake(reg, "modules/web", manifest(), f);
  const target = join(dir, "web", pub.manifestDigest.slice(7));
  await fetchModule({ assignment: assign(pub.ociReference), modulesDir: dir, arch: "amd64" });
  rmSync(join(target, "blob.erofs"));
  writeFileSync(join(target, "blob.erofs.partial"), f.blob.subarray(0, 5000));
  await fetchModule({ assignment: assign(pub.ociReference), modulesDir: dir, arch: "amd64" });
  expect(reg.requests.at(-1)).toBe(`GET /v2/modules/web/blobs/${pub.layers.blob} range=bytes=5000-`);
  expect(statSync(join(target, "blob.erofs")).size).toBe(f.blob.length);
});

test("a corrupted blob is refused (sha256), the file is not kept", async () => {
  const { reg, dir } = env();
  const pub = publishModuleFake(reg, "modules/web", manifest(), files());
  reg.corruptBlob("modules/web", pub.layers.metadata);
  const err = await fetchModule({
    assignment: assign(pub.ociReference),
    modulesDir: dir,
    arch: "amd64",
  }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ModuleFetchError);
  expect((err as ModuleFetchError).reason).toBe("invalid");
  expect((err as Error).message).toContain(`expected ${pub.layers.metadata}`);
  expect(
    statSync(join(dir, "web", pub.manifestDigest.slice(7), "metadata.cfs"), { throwIfNoEntry: false }),
  ).toBe(undefined);
});

test("the module manifest must match the assignment (name, version, digests, arch)", async () => {
  const { reg, dir } = env();
  const pub = publishModuleFake(
    reg,
    "modules/web",
    manifest({ version: "1.1", verityRootHash: hex("c") }),
    files(),
  );
  const err = (await fetchModule({
    assignment: assign(pub.ociReference),
    modulesDir: dir,
    arch: "arm64",
  }).catch((e: unknown) => e)) as ModuleFetchError;
  expect(err.reason).toBe("invalid");
  expect(err.message).toBe(
    `module manifest does not match the assignment: manifest version 1.1, assignment 1.0; manifest verityRootHash ${hex("c")}, assignment ${hex("b")}; manifest arch amd64, node arm64`,
  );
});

test("an unknown manifest is missing (not retried until the assignment changes); an unreachable registry is transient", async () => {
  const { reg, dir } = env();
  const ref = `${reg.baseUrl}/modules/web@sha256:${hex("d")}`;
  const e1 = (await fetchModule({ assignment: assign(ref), modulesDir: dir, arch: "amd64" }).catch(
    (e: unknown) => e,
  )) as ModuleFetchError;
  expect(e1.reason).toBe("missing");
  expect(e1.message).toContain("HTTP 404");
  const e2 = (await fetchModule({
    assignment: assign(`http://127.0.0.1:1/modules/web@sha256:${hex("d")}`),
    modulesDir: dir,
    arch: "amd64",
  }).catch((e: unknown) => e)) as ModuleFetchError;
  expect(e2.reason).toBe("transient");
});

// Needs mkfs.erofs (buildModuleImages): missing, @powernode/exec fails the test saying `npm run setup`.
test("a real module (buildModuleImages) downloaded from the registry fake: fs-verity and dm-verity digests verify", async () => {
  const { reg, dir } = env();
  const src = join(dir, "src");
  mkdirSync(join(src, "etc"), { recursive: true });
  writeFileSync(join(src, "etc/motd"), "hi\n");
  writeFileSync(join(src, "etc/big"), new Uint8Array(100_000).fill(7));
  const m = await buildModuleImages(src, join(dir, "out"));
  const pub = publishModuleFake(
    reg,
    "modules/web",
    manifest({
      metadataDigest: m.metadataDigest,
      verityRootHash: m.verityRootHash,
      veritySalt: m.veritySalt,
      verityDataBlocks: m.sizes.blob / 4096,
    }),
    {
      metadata: new Uint8Array(readFileSync(m.metadataImage)),
      blob: new Uint8Array(readFileSync(m.blobImage)),
      verity: new Uint8Array(readFileSync(m.verityHashFile)),
    },
  );
  const got = await fetchModule({
    assignment: assign(pub.ociReference, {
      metadataDigest: m.metadataDigest,
      verityRootHash: m.verityRootHash,
    }),
    modulesDir: join(dir, "modules"),
    arch: "amd64",
  });
  const sys = createModuleSys();
  const fd = sys.openRead(got.metadata);
  try {
    expect(sys.fsVerityDigestFd(fd)).toBe(m.metadataDigest);
  } finally {
    sys.close(fd);
  }
  expect(
    verifyVerity(got.blob, got.verity, fromHex(got.manifest.verityRootHash), { superblock: true }),
  ).toEqual({
    ok: true,
  });
}, 30_000);

/** A body of `head` then zeros up to `total` bytes, made as the client reads; `sent()` counts what was made. */
function endless(head: Uint8Array, total: number, chunk = 64 * 1024) {
  let made = 0;
  const zeros = new Uint8Array(chunk);
  const stream = new ReadableStream<Uint8Array>({
    pull(c) {
      if (made >= total) return c.close();
      const next = made === 0 ? head : zeros.subarray(0, Math.min(chunk, total - made));
      made += next.byteLength;
      c.enqueue(next);
    },
  });
  return { stream, sent: () => made };
}

const MiB = 1024 * 1024;

test("a blob served longer than its descriptor stops at the descriptor size: refused, nothing kept, the rest not read", async () => {
  const { reg, dir } = env();
  const f = files();
  const pub = publishModuleFake(reg, "modules/web", manifest(), f);
  // A hostile registry: the real 12 KiB, then 256 MiB more under the same digest, chunked (no length).
  const body = endless(f.blob, 256 * MiB);
  reg.intercept(`/v2/modules/web/blobs/${pub.layers.blob}`, () => new Response(body.stream));
  const err = (await fetchModule({
    assignment: assign(pub.ociReference),
    modulesDir: dir,
    arch: "amd64",
  }).catch((e: unknown) => e)) as ModuleFetchError;
  expect(err).toBeInstanceOf(ModuleFetchError);
  expect(err.reason).toBe("invalid");
  expect(err.message).toContain(`its descriptor says ${f.blob.length}`);
  const target = join(dir, "web", pub.manifestDigest.slice(7));
  expect(statSync(join(target, "blob.erofs"), { throwIfNoEntry: false })).toBe(undefined);
  expect(statSync(join(target, "blob.erofs.partial"), { throwIfNoEntry: false })).toBe(undefined);
  // The client stopped reading: what the registry got to send is socket buffers, not 256 MiB.
  expect(body.sent()).toBeLessThan(32 * MiB);
});

test("a blob whose Content-Length is over its descriptor is refused before a byte is written", async () => {
  const { reg, dir } = env();
  const f = files();
  const pub = publishModuleFake(reg, "modules/web", manifest(), f);
  const longer = new Uint8Array(f.blob.length + 5);
  longer.set(f.blob);
  reg.intercept(`/v2/modules/web/blobs/${pub.layers.blob}`, () => new Response(longer));
  const err = (await fetchModule({
    assignment: assign(pub.ociReference),
    modulesDir: dir,
    arch: "amd64",
  }).catch((e: unknown) => e)) as ModuleFetchError;
  expect(err.reason).toBe("invalid");
  expect(err.message).toContain(
    `served with ${longer.length} bytes or more, its descriptor says ${f.blob.length}`,
  );
  const target = join(dir, "web", pub.manifestDigest.slice(7));
  expect(statSync(join(target, "blob.erofs.partial"), { throwIfNoEntry: false })).toBe(undefined);
});

test("a chunked manifest is refused once it passes 4 MiB, without reading the rest", async () => {
  const { reg, dir } = env();
  const digest = `sha256:${hex("e")}`;
  const body = endless(new Uint8Array(MiB).fill(0x20), 600 * MiB, MiB);
  reg.intercept(`/v2/modules/web/manifests/${digest}`, () => new Response(body.stream));
  const err = (await fetchModule({
    assignment: assign(`${reg.baseUrl}/modules/web@${digest}`),
    modulesDir: dir,
    arch: "amd64",
  }).catch((e: unknown) => e)) as ModuleFetchError;
  expect(err.reason).toBe("invalid");
  expect(err.message).toContain(`is over ${4 * MiB} bytes`);
  expect(body.sent()).toBeLessThan(64 * MiB);
});

test("module pulls over https trust the hub CA from the identity, and only it", async () => {
  const ca = await createTestCa();
  const other = await createTestCa("another CA");
  const reg = startOciRegistryFake({ tls: await ca.issueServerCert(["127.0.0.1"]) });
  const dir = mkdtempSync(join(tmpdir(), "pn-fetch-"));
  cleanup.push(
    () => reg.stop(),
    () => rmSync(dir, { recursive: true, force: true }),
  );
  expect(reg.baseUrl).toStartWith("https://");
  const f = files();
  const pub = publishModuleFake(reg, "modules/web", manifest(), f);
  const refused = (await fetchModule({
    assignment: assign(pub.ociReference),
    modulesDir: dir,
    arch: "amd64",
    fetch: createHubFetch(other.caPem),
  }).catch((e: unknown) => e)) as ModuleFetchError;
  expect(refused).toBeInstanceOf(ModuleFetchError);
  expect(refused.reason).toBe("transient");
  const got = await fetchModule({
    assignment: assign(pub.ociReference),
    modulesDir: dir,
    arch: "amd64",
    fetch: createHubFetch(ca.caPem),
  });
  expect(new Uint8Array(readFileSync(got.blob))).toEqual(f.blob);
});
