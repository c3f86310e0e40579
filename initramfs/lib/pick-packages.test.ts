import { describe, expect, test } from "bun:test";
import { type AptIndex, indexPackages, parsePackagesText } from "@powernode/debian";
import { IMAGE_SUITES, pickKernel, pickUserland } from "./pick-packages.ts";

const SHA = "59fd093988b4b7f17cb10329ce6dd080ace367cd3b7928d6145012cb7fc3a334";

function stanza(name: string, version: string, arch = "amd64"): string {
  const file = `${name}_${version.replace(/^[0-9]+:/, "")}_${arch}.deb`;
  return `Package: ${name}\nVersion: ${version}\nArchitecture: ${arch}\nFilename: pool/main/x/${name}/${file}\nSize: 1000\nSHA256: ${SHA}\n`;
}

/** Packages text per suite, as the apt lists of an amd64 machine would have them. */
const LISTS: Record<(typeof IMAGE_SUITES)[number], string[]> = {
  bookworm: [
    stanza("libc6", "2.36-9+deb12u10"),
    stanza("busybox-static", "1:1.35.0-4+b3"),
    stanza("libgcc-s1", "12.2.0-14+deb12u1"),
    stanza("linux-image-6.12.9+deb12-cloud-amd64-unsigned", "6.12.9-1~deb12u1"),
  ],
  "bookworm-updates": [stanza("busybox-static", "1:1.35.0-4+deb12u1+b1")],
  "bookworm-security": [
    stanza("libc6", "2.36-9+deb12u14"),
    stanza("linux-image-6.12.117+deb12-cloud-amd64-unsigned", "6.12.117-1~deb12u1"),
    stanza("linux-image-6.12.121+deb12-cloud-amd64-unsigned", "6.12.121-1~deb12u1"),
    stanza("linux-image-6.12.121+deb12-amd64-unsigned", "6.12.121-1~deb12u1"),
  ],
  "bookworm-backports": [
    stanza("libc6", "2.41-1~bpo12+1"),
    stanza("busybox-static", "1:1.37.0-6~bpo12+1"),
    stanza("linux-image-6.12.119+deb12-cloud-amd64-unsigned", "6.12.119-1~bpo12+1"),
  ],
};

function index(without: string[] = []): AptIndex {
  const pkgs = IMAGE_SUITES.flatMap((suite) =>
    parsePackagesText(
      LISTS[suite].filter((s) => !without.some((w) => s.includes(`Package: ${w}\n`))).join("\n"),
      "amd64",
      suite,
    ),
  );
  return indexPackages("amd64", pkgs, [], IMAGE_SUITES);
}

const KPKG = "linux-image-6.12.117+deb12-cloud-amd64-unsigned";

describe("pickUserland", () => {
  test("the newest bookworm version wins; backports never does, even when newer", () => {
    const idx = index();
    expect(idx.packages.get("libc6")?.suite).toBe("bookworm-backports"); // the newest overall
    const [libc, busybox, libgcc] = pickUserland(idx, ["libc6", "busybox-static", "libgcc-s1"]);
    expect(libc).toMatchObject({ version: "2.36-9+deb12u14", suite: "bookworm-security", sha256: SHA });
    expect(busybox).toMatchObject({ version: "1:1.35.0-4+deb12u1+b1", suite: "bookworm-updates" });
    expect(libgcc?.version).toBe("12.2.0-14+deb12u1");
  });

  test("a package only backports (or nobody) has is an error naming it", () => {
    const idx = indexPackages(
      "amd64",
      parsePackagesText(stanza("libc6", "2.41-1~bpo12+1"), "amd64", "bookworm-backports"),
      [],
    );
    expect(() => pickUserland(idx, ["libc6"])).toThrow(
      /^libc6:amd64: no bookworm version in the apt sources/,
    );
    expect(() => pickUserland(index(), ["nosuch"])).toThrow(/nosuch:amd64: no bookworm version/);
  });
});

describe("pickKernel", () => {
  test("the pinned kernel is found by its exact version", () => {
    const k = pickKernel(index(), KPKG, "6.12.117-1~deb12u1");
    expect(k).toMatchObject({ name: KPKG, suite: "bookworm-security", size: 1000 });
    expect(k.filename).toBe(`pool/main/x/${KPKG}/${KPKG}_6.12.117-1~deb12u1_amd64.deb`);
  });

  test("the pinned kernel gone: the error names the newest 6.12 package of the same flavour", () => {
    const gone =
      /no longer in the apt sources; newest available: linux-image-6\.12\.121\+deb12-cloud-amd64-unsigned; update KERNEL in initramfs\/versions\.ts/;
    expect(() => pickKernel(index([KPKG]), KPKG, "6.12.117-1~deb12u1")).toThrow(gone);
    // the name is there, the pinned version is not
    expect(() => pickKernel(index(), KPKG, "6.12.117-1~deb12u2")).toThrow(gone);
  });

  test("no 6.12 package of the flavour at all: said so", () => {
    expect(() =>
      pickKernel(index(), "linux-image-6.12.117+deb12-rt-amd64-unsigned", "6.12.117-1~deb12u1"),
    ).toThrow(
      "kernel package linux-image-6.12.117+deb12-rt-amd64-unsigned=6.12.117-1~deb12u1 (amd64) is no longer in the apt sources; no 6.12 package found",
    );
  });
});
