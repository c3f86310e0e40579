import { expect, test } from "bun:test";
import { type CveRecord, drill, riskScore, type VersionPackages } from "./drill.ts";
import { inRange, parseRange } from "./range.ts";

test("ranges: Debian relations joined by commas; ambiguous < and >, bad versions, empties refused", () => {
  expect(parseRange(">= 3.0.0, << 3.0.15-1~deb12u1")).toEqual({
    ok: true,
    value: [
      { op: ">=", version: "3.0.0" },
      { op: "<<", version: "3.0.15-1~deb12u1" },
    ],
  });
  expect(parseRange("< 3.1.4")).toEqual({
    ok: false,
    error: '"< 3.1.4": no relation << <= = >= >> ("<" and ">" are ambiguous: use << <= >= >>)',
  });
  expect(parseRange("<< three")).toEqual({ ok: false, error: '"<< three": "three" is not a Debian version' });
  expect(parseRange("")).toMatchObject({ ok: false });
  expect(parseRange("<< 1,")).toMatchObject({ ok: false });
});

test("inRange uses Debian version order (~ before anything, epochs, revisions)", () => {
  const rel = (s: string) => {
    const p = parseRange(s);
    if (!p.ok) throw new Error(p.error);
    return p.value;
  };
  expect(inRange("3.0.15-1~deb12u1", rel("<< 3.0.15-1"))).toBe(true);
  expect(inRange("3.0.15-1", rel("<< 3.0.15-1"))).toBe(false);
  expect(inRange("1:1.0", rel("<< 2.0"))).toBe(false);
  expect(inRange("3.0.11-1~deb12u2", rel(">= 3.0.0, << 3.0.15-1~deb12u1"))).toBe(true);
  expect(inRange("2.9", rel(">= 3.0.0, << 3.0.15-1~deb12u1"))).toBe(false);
});

const cve: CveRecord = {
  id: "CVE-2026-99099",
  severity: "critical",
  summary: "A drill.",
  affected: [{ package: "libssl3", range: "<< 3.0.15-1~deb12u1" }],
};
const versions: VersionPackages[] = [
  {
    module: "system-base",
    version: "1",
    arch: "amd64",
    packages: [{ name: "libssl3", version: "3.0.11-1~deb12u2" }],
  },
  {
    module: "system-base",
    version: "2",
    arch: "amd64",
    packages: [{ name: "libssl3", version: "3.0.15-1~deb12u1" }],
  },
  {
    module: "system-base",
    version: "1",
    arch: "arm64",
    packages: [{ name: "libssl3", version: "3.0.11-1~deb12u2" }],
  },
  { module: "nginx-light", version: "1", arch: "amd64", packages: [{ name: "nginx", version: "1.22.1-9" }] },
  { module: "k3s", version: "v1.30.4", arch: "amd64", packages: [] },
];

test("drill: exactly the versions whose lists hold an affected version; nodes counted once", () => {
  const r = drill(cve, versions, [
    { instanceId: "n1", module: "system-base", version: "1", arch: "amd64" },
    { instanceId: "n2", module: "system-base", version: "1", arch: "amd64" },
    { instanceId: "n3", module: "system-base", version: "2", arch: "amd64" },
    { instanceId: "n4", module: "system-base", version: "1", arch: "arm64" },
  ]);
  expect(
    r.exposures.map((e) => `${e.module} ${e.version} ${e.arch} ${e.installedVersion} ${e.instances}`),
  ).toEqual(["system-base 1 amd64 3.0.11-1~deb12u2 2", "system-base 1 arm64 3.0.11-1~deb12u2 1"]);
  expect(r.exposedModules).toEqual(["system-base"]);
  expect(r.exposedInstanceCount).toBe(3);
  expect(r.versionsChecked).toBe(5);
  expect(r.versionsWithoutPackages).toBe(1);
  expect(r.riskScore).toBe(30);
  expect(r.riskFormula).toBe("weight(critical) 10 x (1 + log2(1 + 3 exposed nodes)) = 30");
  expect(r.runbookMarkdown).toContain("# CVE-2026-99099 (critical)");
  expect(r.runbookMarkdown).toContain("| system-base | 1 | amd64 | libssl3 | 3.0.11-1~deb12u2 | 2 |");
  expect(r.runbookMarkdown).toContain("pnctl module build modules/system-base --arch arm64");
  expect(r.runbookMarkdown).toContain("1 module version(s) record no package list");
});

test("risk: zero when nothing is exposed; an exposed version no node runs still counts once", () => {
  expect(riskScore("high", 0, 0).score).toBe(0);
  expect(riskScore("high", 1, 0).score).toBe(7);
  expect(riskScore("low", 1, 7).score).toBe(4);
  const none = drill({ ...cve, affected: [{ package: "zlib1g", range: "<< 1:1.0" }] }, versions, []);
  expect(none.exposures).toEqual([]);
  expect(none.runbookMarkdown).toContain(
    "No published module version ships an affected package version (5 checked).",
  );
});
