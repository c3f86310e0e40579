import { describe, expect, test } from "bun:test";
import { type DebPackage, indexPackages, loadAptIndex, parsePackagesText } from "@powernode/debian";
import { createExec } from "@powernode/exec";
import { MAINTAINER_SCRIPT_PACKAGES } from "./build-module.ts";
import { resolveClosure } from "./resolve.ts";

const PACKAGES = `Package: app
Version: 1.0-1
Architecture: arm64
Depends: libc6 (>= 2.34), libfoo1 | libfoo-alt, mail-transport-agent, adduser, coreutils
Pre-Depends: init-system-helpers (>= 1.54~)
Description: test
 long description line: with a colon

Package: app
Version: 0.9-1
Architecture: arm64

Package: libc6
Version: 2.36-9
Architecture: arm64
Depends: libgcc-s1

Package: libgcc-s1
Version: 12.2.0-14
Architecture: arm64
Depends: libc6 (>= 2.35)

Package: libfoo1
Version: 2:1.0
Architecture: arm64
Depends: libc6

Package: postfix
Version: 3.7
Architecture: arm64
Provides: mail-transport-agent

Package: exim4
Version: 4.96
Architecture: arm64
Provides: mail-transport-agent

Package: coreutils
Version: 9.1
Architecture: arm64
Essential: yes

Package: amd-only
Version: 1
Architecture: amd64

Package: data
Version: 1
Architecture: all
Depends: libc6 (>= 9.0)
`;

function index() {
  return indexPackages("arm64", parsePackagesText(PACKAGES, "arm64", "bookworm"), []);
}

describe("resolveClosure", () => {
  test("closure minus base, excluded and Essential; first real alternative; first provider of a virtual", () => {
    const r = resolveClosure(index(), ["app"], {
      base: ["libc6", "libgcc-s1"],
      exclude: ["adduser", "init-system-helpers"],
    });
    expect(r.packages.map((p: DebPackage) => p.name)).toEqual(["app", "exim4", "libfoo1"]);
    expect(Object.fromEntries(r.omitted)).toEqual({
      libc6: "base",
      "init-system-helpers": "excluded",
      adduser: "excluded",
      coreutils: "essential",
    });
  });

  test("without a base the libraries are shipped; unsatisfiable versions and unknown names are errors", () => {
    const idx = index();
    const r = resolveClosure(idx, ["libfoo1"]);
    expect(r.packages.map((p) => p.name)).toEqual(["libc6", "libfoo1", "libgcc-s1"]);
    expect(() => resolveClosure(idx, ["data"])).toThrow(
      "data 1 depends on libc6 (>= 9.0): bookworm has libc6 2.36-9",
    );
    expect(() => resolveClosure(idx, ["data"], { base: ["libc6"] })).toThrow("the base module ships 2.36-9");
    expect(() => resolveClosure(idx, ["nope"])).toThrow(
      'recipe packages: no package "nope" for arm64 in bookworm',
    );
    expect(() => resolveClosure(idx, ["app"])).toThrow(
      "app 1.0-1 depends on init-system-helpers (>= 1.54~): nothing in bookworm (arm64) satisfies it",
    );
  });

  test("the real bookworm arm64 index: nginx-light over a libc6 base ships nginx, not libc6", async () => {
    const idx = await loadAptIndex(createExec(), "arm64");
    const base = resolveClosure(idx, ["libc6", "libgcc-s1"], { exclude: [...MAINTAINER_SCRIPT_PACKAGES] });
    expect(base.packages.map((p) => p.name)).toEqual(["gcc-12-base", "libc6", "libgcc-s1"]);
    const r = resolveClosure(idx, ["nginx-light"], {
      base: base.packages.map((p) => p.name),
      exclude: [...MAINTAINER_SCRIPT_PACKAGES, "iproute2"],
    });
    const names = r.packages.map((p) => p.name);
    expect(names).toContain("nginx");
    expect(names).toContain("nginx-common");
    expect(names).not.toContain("libc6");
    expect(r.omitted.get("libc6")).toBe("base");
    expect(r.packages.find((p) => p.name === "nginx")?.architecture).toBe("arm64");
    expect(r.packages.find((p) => p.name === "nginx-common")?.architecture).toBe("all");
  }, 60_000);
});
