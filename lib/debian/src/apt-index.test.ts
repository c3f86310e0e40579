import { describe, expect, test } from "bun:test";
import { createExec } from "@powernode/exec";
import {
  BOOKWORM_SUITES,
  indexPackages,
  loadAptIndex,
  parseDependencyField,
  parsePackagesText,
} from "./apt-index.ts";

const SHA_A = "59fd093988b4b7f17cb10329ce6dd080ace367cd3b7928d6145012cb7fc3a334";
const SHA_B = "3f6f833ae2fd533a0c9238310aef1148f51a64aa5d5f1278451ddc793d4d6d15";

const BOOKWORM = `Package: app
Version: 0.9-1
Architecture: arm64
Filename: pool/main/a/app/app_0.9-1_arm64.deb
Size: 700656
SHA256: ${SHA_B}

Package: app
Version: 1.0-1
Architecture: arm64
Depends: libc6 (>= 2.34), libfoo1 | libfoo-alt
Pre-Depends: init-system-helpers (>= 1.54~)
Provides: app-virtual
Description: test
 long description line: with a colon
Filename: pool/main/a/app/app_1.0-1_arm64.deb
Size: 701368
SHA256: ${SHA_A.toUpperCase()}

Package: amd-only
Version: 1
Architecture: amd64

Package: data
Version: 1
Architecture: all

Package: postfix
Version: 3.7
Architecture: arm64
Provides: mail-transport-agent

Package: exim4
Version: 4.96
Architecture: arm64
Provides: mail-transport-agent
`;

const SECURITY = `Package: app
Version: 1.0-1+deb12u1
Architecture: arm64
Filename: pool/updates/main/a/app/app_1.0-1+deb12u1_arm64.deb
Size: 12
SHA256: ${SHA_A}
`;

function index() {
  return indexPackages(
    "arm64",
    [
      ...parsePackagesText(BOOKWORM, "arm64", "bookworm"),
      ...parsePackagesText(SECURITY, "arm64", "bookworm-security"),
    ],
    [],
  );
}

describe("apt index", () => {
  test("Packages text: own arch and all only, Depends + Pre-Depends, Filename, Size and SHA256 kept", () => {
    const pkgs = parsePackagesText(BOOKWORM, "arm64", "bookworm");
    expect(pkgs.map((p) => `${p.name} ${p.version}`)).toEqual([
      "app 0.9-1",
      "app 1.0-1",
      "data 1",
      "postfix 3.7",
      "exim4 4.96",
    ]);
    const app = pkgs[1];
    expect(app?.filename).toBe("pool/main/a/app/app_1.0-1_arm64.deb");
    expect(app?.size).toBe(701368);
    expect(app?.sha256).toBe(SHA_A);
    expect(app?.suite).toBe("bookworm");
    expect(app?.depends[0]).toEqual([{ name: "init-system-helpers", rel: ">=", version: "1.54~" }]);
    expect(pkgs[2]).toMatchObject({ architecture: "all", filename: "", size: 0, sha256: "" });
  });

  test("a malformed Size or SHA256 is an error naming the package and field", () => {
    expect(() =>
      parsePackagesText("Package: x\nVersion: 1\nArchitecture: all\nSize: 12k\n", "amd64", "s"),
    ).toThrow('x 1 Size: not a byte count: "12k"');
    expect(() =>
      parsePackagesText("Package: x\nVersion: 1\nArchitecture: all\nSHA256: abc\n", "amd64", "s"),
    ).toThrow('x 1 SHA256: not 64 hex digits: "abc"');
  });

  test("newest version per name across suites; every version kept, newest first; exact lookup", () => {
    const idx = index();
    expect(idx.packages.get("app")?.version).toBe("1.0-1+deb12u1");
    expect(idx.packages.get("app")?.suite).toBe("bookworm-security");
    expect(idx.versions("app").map((p) => `${p.version} ${p.suite}`)).toEqual([
      "1.0-1+deb12u1 bookworm-security",
      "1.0-1 bookworm",
      "0.9-1 bookworm",
    ]);
    expect(idx.versions("nope")).toEqual([]);
    expect(idx.find("app", "0.9-1")?.sha256).toBe(SHA_B);
    expect(idx.find("app", "0.8")).toBeUndefined();
    expect(idx.providers.has("app-virtual")).toBe(false); // only the newest version counts
    expect(idx.providers.get("mail-transport-agent")?.map((p) => p.name)).toEqual(["exim4", "postfix"]);
    expect(idx.suites).toEqual([...BOOKWORM_SUITES]);
  });

  test("dependency fields: alternatives, arch qualifiers, arch and profile restrictions", () => {
    expect(parseDependencyField("f", "python3:any (>= 3.9), a | b (<< 2) [amd64], c <!nocheck>")).toEqual([
      [{ name: "python3", rel: ">=", version: "3.9" }],
      [{ name: "a" }, { name: "b", rel: "<<", version: "2" }],
      [{ name: "c" }],
    ]);
    expect(() => parseDependencyField("x Depends", "Bad Name")).toThrow('x Depends: cannot parse "Bad Name"');
  });
});

describe("loadAptIndex (the machine's apt lists)", () => {
  const exec = createExec();

  test("bookworm suites by default; backports only when asked; every entry has Filename, Size and SHA256", async () => {
    const idx = await loadAptIndex(exec, "amd64");
    expect(idx.suites).toEqual([...BOOKWORM_SUITES]);
    const zstd = idx.packages.get("zstd");
    expect(zstd?.filename).toMatch(/^pool\/.*\/zstd_.*_amd64\.deb$/);
    expect(zstd?.size).toBeGreaterThan(0);
    expect(zstd?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect([...idx.packages.values()].every((p) => BOOKWORM_SUITES.some((s) => s === p.suite))).toBe(true);
    expect(idx.versions("zstd").length).toBeGreaterThanOrEqual(1);

    const withBpo = await loadAptIndex(exec, "amd64", {
      suites: [...BOOKWORM_SUITES, "bookworm-backports"],
    });
    expect(withBpo.files.some((f) => f.includes("bookworm-backports"))).toBe(true);
    expect([...withBpo.packages.values()].some((p) => p.suite === "bookworm-backports")).toBe(true);
  }, 180_000);

  test("a suite without a Packages file for the arch is a clear error", async () => {
    await expect(loadAptIndex(exec, "arm64", { suites: ["bookworm", "no-such-suite"] })).rejects.toThrow(
      "apt lists: no no-such-suite Packages index for arm64 (dpkg --add-architecture arm64; apt-get update)",
    );
  });
});
