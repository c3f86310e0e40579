import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { Arch, CatalogService } from "@powernode/proto";
import { operatorClient, startTestHub } from "../../test/harness.ts";
import type { RunningHub } from "../hub.ts";

let hub: RunningHub;
beforeAll(async () => {
  hub = await startTestHub();
}, 30_000);
afterAll(async () => {
  await hub.stop();
});

const HEX = "0123456789abcdef".repeat(4);

describe("CatalogService", () => {
  test("create, list and get modules and versions", async () => {
    const c = operatorClient(hub, CatalogService);
    const m = await c.createModule({ name: "base-os", description: "Debian base", priority: 10 });
    expect(m.module?.name).toBe("base-os");
    const v = await c.createModuleVersion({
      moduleName: "base-os",
      version: "1.0.0",
      arch: Arch.AMD64,
      fsverityDigest: HEX,
      verityRootHash: HEX,
      ociDigest: `sha256:${HEX}`,
      metadataSize: 4096n,
      blobSize: 1n << 40n,
    });
    expect(v.version?.blobSize).toBe(1n << 40n);
    expect((await c.listModules({})).modules.map((x) => x.name)).toEqual(["base-os"]);
    const got = await c.getModule({ name: "base-os" });
    expect(got.versions.map((x) => x.version)).toEqual(["1.0.0"]);
    expect((await c.getModuleVersion({ id: v.version?.id ?? "" })).version?.moduleName).toBe("base-os");
    expect((await c.listModuleVersions({ moduleName: "base-os" })).versions).toHaveLength(1);
    const dup = await c.createModule({ name: "base-os" }).catch((e) => ConnectError.from(e));
    expect((dup as ConnectError).code).toBe(Code.AlreadyExists);
  });

  test.each([
    [{ name: "UPPER" }, "name: \"UPPER\" must be 1-63 of a-z, 0-9, '-'"],
    [{ name: "" }, "name: \"\" must be 1-63 of a-z, 0-9, '-'"],
    [{ name: "-x" }, "name: \"-x\" must be 1-63 of a-z, 0-9, '-'"],
  ])("CreateModule rejects %j", async (req, message) => {
    const err = await operatorClient(hub, CatalogService)
      .createModule(req)
      .catch((e) => ConnectError.from(e));
    expect({ code: (err as ConnectError).code, message: (err as ConnectError).rawMessage }).toEqual({
      code: Code.InvalidArgument,
      message,
    });
  });

  test.each([
    [{ fsverityDigest: "xyz" }, "fsverity_digest: must be 64 lowercase hex characters"],
    [{ fsverityDigest: HEX.toUpperCase() }, "fsverity_digest: must be 64 lowercase hex characters"],
    [{ verityRootHash: HEX.slice(1) }, "verity_root_hash: must be 64 lowercase hex characters"],
    [{ ociDigest: HEX }, 'oci_digest: must be "sha256:" and 64 lowercase hex characters'],
    [{ arch: Arch.UNSPECIFIED }, "arch: required (ARCH_AMD64 or ARCH_ARM64)"],
    [{ version: "../x" }, "version: 1-128 of A-Z a-z 0-9 . _ + -, starting alphanumeric"],
  ])("CreateModuleVersion rejects %j", async (override, message) => {
    const c = operatorClient(hub, CatalogService);
    await c.createModule({ name: "m2" }).catch(() => undefined);
    const req = {
      moduleName: "m2",
      version: "1",
      arch: Arch.ARM64,
      fsverityDigest: HEX,
      verityRootHash: HEX,
      ...override,
    };
    const err = await c.createModuleVersion(req).catch((e) => ConnectError.from(e));
    expect({ code: (err as ConnectError).code, message: (err as ConnectError).rawMessage }).toEqual({
      code: Code.InvalidArgument,
      message,
    });
  });

  test("a version of an unknown module is NotFound", async () => {
    const err = await operatorClient(hub, CatalogService)
      .createModuleVersion({
        moduleName: "nope",
        version: "1",
        arch: Arch.AMD64,
        fsverityDigest: HEX,
        verityRootHash: HEX,
      })
      .catch((e) => ConnectError.from(e));
    expect((err as ConnectError).code).toBe(Code.NotFound);
  });
});
