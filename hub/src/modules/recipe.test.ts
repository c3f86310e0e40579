import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { inTreeRecipes } from "./build-all.ts";
import { loadRecipe, MODULES_DIR, parseRecipe, recipePath, recipeToBuildInput } from "./recipe.ts";

describe("recipes", () => {
  test("every in-tree recipe parses; system-base comes first and is the only one with merged-/usr links", () => {
    const names = inTreeRecipes();
    expect(names[0]).toBe("system-base");
    expect(names).toEqual(expect.arrayContaining(["system-base", "chrony", "nginx-light"]));
    for (const n of names) {
      const r = loadRecipe(recipePath(n));
      expect(r.name).toBe(n);
      expect(r.usrLinks).toBe(n === "system-base");
      if (n !== "system-base") expect(r.base).toBe("system-base");
      for (const s of r.services) expect(s.exec[0]).toStartWith("/");
    }
    expect(loadRecipe(recipePath("nginx-light")).files).toBe(join(MODULES_DIR, "nginx-light", "files"));
  });

  test("bad recipes: every problem named", () => {
    const r = parseRecipe(
      {
        name: "Bad_Name",
        priority: 1.5,
        source: { debian: { packages: [] } },
        dirs: ["relative", "/ok:999"],
        symlinks: { rel: "x" },
        generate: ["nope"],
        extra: true,
      },
      "/x/module.json",
    );
    expect(r.ok).toBe(false);
    const err = r.ok ? "" : r.error;
    for (const part of [
      "extra: unknown field",
      "name: 1-63 of a-z",
      "priority: not an integer",
      "dirs: must be absolute paths",
      "symlinks: must map absolute paths",
      "generate: known generators are ca-certificates-bundle",
      "source.debian.packages: a non-empty list",
    ])
      expect(err).toContain(part);
    expect(parseRecipe({ name: "a", priority: 1 }, "f").ok).toBe(false);
    expect(parseRecipe([], "f")).toEqual({ ok: false, error: "f: not a JSON object" });
  });

  test("a recipe with a base needs the base's packages to become a build input", () => {
    const r = loadRecipe(recipePath("chrony"));
    expect(() => recipeToBuildInput(r, "amd64", "/tmp/out")).toThrow(
      "needs the packages of its base system-base",
    );
    const input = recipeToBuildInput(r, "arm64", "/tmp/out", ["libc6"]);
    expect(input.source).toEqual({
      debian: { packages: ["chrony"], exclude: ["iproute2"], base: ["libc6"] },
    });
    expect(input.versionSuffix).toBe("+pn2");
  });
});
