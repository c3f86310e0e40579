import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dtbDirIn, dtbPackageName, readManifestKernel } from "./rpi-boot-files.ts";

describe("rpi boot files", () => {
  test("the DTBs come from the generic arm64 package of the node kernel's version", () => {
    expect(dtbPackageName("linux-image-6.12.117+deb12-cloud-arm64-unsigned")).toBe(
      "linux-image-6.12.117+deb12-arm64-unsigned",
    );
    expect(dtbPackageName("linux-image-6.12.117+deb12-arm64-unsigned")).toBe(
      "linux-image-6.12.117+deb12-arm64-unsigned",
    );
    expect(() => dtbPackageName("linux-image-6.12.117+deb12-cloud-amd64-unsigned")).toThrow("arm64");
    expect(dtbDirIn("/r", "linux-image-6.12.117+deb12-arm64-unsigned")).toBe(
      "/r/usr/lib/linux-image-6.12.117+deb12-arm64/broadcom",
    );
  });

  test("the node kernel is read from an arm64 build manifest; an amd64 one is refused", () => {
    const dir = mkdtempSync(join(tmpdir(), "rpi-manifest-"));
    const kernel = {
      package: "linux-image-6.12.117+deb12-cloud-arm64-unsigned",
      version: "6.12.117-1~deb12u1",
    };
    writeFileSync(join(dir, "build-manifest.json"), JSON.stringify({ arch: "arm64", kernel }));
    expect(readManifestKernel(dir)).toEqual(kernel);
    writeFileSync(join(dir, "build-manifest.json"), JSON.stringify({ arch: "amd64", kernel }));
    expect(() => readManifestKernel(dir)).toThrow("not an arm64 build manifest");
  });
});
