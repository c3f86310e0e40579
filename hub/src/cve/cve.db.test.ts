/**
 * CveService against a real hub: records checked at the edge, a drill over catalog versions whose
 * package lists came through CreateModuleVersion and a node whose desired state assigns one.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code } from "@connectrpc/connect";
import { Arch, CatalogService, CveService, FleetService, ProvisionService } from "@powernode/proto";
import { operatorClient, refusalOf, startTestHub } from "../../test/harness.ts";
import { cliFor } from "../cli/test-cli.ts";
import type { RunningHub } from "../hub.ts";

let hub: RunningHub;
beforeAll(async () => {
  hub = await startTestHub();
  const catalog = operatorClient(hub, CatalogService);
  await catalog.createModule({ name: "system-base" });
  for (const [version, ssl, c] of [
    ["1", "3.0.11-1~deb12u2", "a"],
    ["2", "3.0.15-1~deb12u1", "b"],
  ] as const)
    await catalog.createModuleVersion({
      moduleName: "system-base",
      version,
      arch: Arch.AMD64,
      fsverityDigest: c.repeat(64),
      verityRootHash: c.repeat(64),
      ociDigest: `sha256:${c.repeat(64)}`,
      packages: [
        { name: "libc6", version: "2.36-9+deb12u10" },
        { name: "libssl3", version: ssl },
      ],
    });
}, 30_000);
afterAll(async () => {
  await hub.stop();
});

test("a drill finds the version with the affected package version and the node assigned it", async () => {
  const cves = operatorClient(hub, CveService);
  const prov = operatorClient(hub, ProvisionService);
  const created = await prov.createInstance({ name: "exposed", arch: Arch.AMD64, provider: "none" });
  const id = created.instance?.id ?? "";
  await prov.assignModules({ instanceId: id, modules: [{ name: "system-base", version: "1" }] });
  const put = await cves.putCve({
    cve: {
      id: "CVE-2026-99099",
      severity: "critical",
      summary: "drill",
      affected: [{ package: "libssl3", range: "<<3.0.15-1~deb12u1" }],
    },
  });
  expect(put.cve?.affected).toEqual([
    expect.objectContaining({ package: "libssl3", range: "<< 3.0.15-1~deb12u1" }),
  ]);
  const r = await cves.drillCve({ id: "CVE-2026-99099" });
  expect(r.exposures.map((e) => [e.module, e.version, e.installedVersion, e.instances])).toEqual([
    ["system-base", "1", "3.0.11-1~deb12u2", 1],
  ]);
  expect(r.exposedModules).toEqual(["system-base"]);
  expect(r.exposedInstanceCount).toBe(1);
  expect(r.versionsChecked).toBe(2);
  expect(r.riskScore).toBe(20);
  expect(r.runbookMarkdown).toContain("CVE-2026-99099");
  // Moving the node to the fixed version leaves the version exposed but no node on it.
  await prov.assignModules({ instanceId: id, modules: [{ name: "system-base", version: "2" }] });
  const after = await cves.drillCve({ id: "CVE-2026-99099" });
  expect(after.exposedInstanceCount).toBe(0);
  expect(after.riskScore).toBe(10);
  const kinds = (
    await operatorClient(hub, FleetService).listEvents({ kindPrefix: "system.cve.", limit: 10 })
  ).events.map((e) => e.kind);
  expect(kinds).toContain("system.cve.recorded");
  expect(kinds).toContain("system.cve.drilled");
  expect((await cves.listCves({})).cves.map((c) => c.id)).toEqual(["CVE-2026-99099"]);
  await cves.deleteCve({ id: "CVE-2026-99099" });
  expect((await refusalOf(cves.drillCve({ id: "CVE-2026-99099" })))?.code).toBe(Code.NotFound);
});

test("bad records and package lists are refused naming the field", async () => {
  const cves = operatorClient(hub, CveService);
  const bad = async (cve: Record<string, unknown>) =>
    (
      await refusalOf(
        cves.putCve({
          cve: {
            id: "CVE-2026-1234",
            severity: "high",
            affected: [{ package: "libssl3", range: "<< 3" }],
            ...cve,
          },
        }),
      )
    )?.message;
  expect(await bad({ id: "CVE-26-1" })).toContain('cve.id: "CVE-26-1" is not CVE-<year>-<digits>');
  expect(await bad({ severity: "severe" })).toContain(
    'cve.severity: "severe" is not one of low, medium, high, critical',
  );
  expect(await bad({ affected: [] })).toContain("cve.affected: 1 to 64 packages");
  expect(await bad({ affected: [{ package: "Bad Name", range: "<< 1" }] })).toContain(
    "cve.affected[0].package",
  );
  expect(await bad({ affected: [{ package: "libssl3", range: "< 1" }] })).toContain("cve.affected[0].range");
  expect(
    await bad({
      affected: [
        { package: "libssl3", range: "<< 1" },
        { package: "libssl3", range: ">> 2" },
      ],
    }),
  ).toContain('cve.affected[1].package: "libssl3" listed twice');
  const catalog = operatorClient(hub, CatalogService);
  const e = await refusalOf(
    catalog.createModuleVersion({
      moduleName: "system-base",
      version: "3",
      arch: Arch.AMD64,
      fsverityDigest: "c".repeat(64),
      verityRootHash: "c".repeat(64),
      packages: [{ name: "libssl3", version: "not a version" }],
    }),
  );
  expect(e?.message).toContain('packages[0].version: "not a version" is not a Debian version');
});

test("pnctl cve put, ls, drill --json and --runbook, rm", async () => {
  const pnctl = cliFor(() => hub);
  const put = await pnctl(
    "cve",
    "put",
    "CVE-2026-4242",
    "--severity",
    "high",
    "--affects",
    "libssl3 >= 3.0.0, << 3.0.15-1~deb12u1",
    "--affects",
    "libc6 << 2.36-9+deb12u4",
    "--summary",
    "a drill",
  );
  expect(put.code).toBe(0);
  const ls = JSON.parse((await pnctl("cve", "ls", "--json")).out) as { id: string; affected: string[] }[];
  expect(ls.find((c) => c.id === "CVE-2026-4242")?.affected).toEqual([
    "libssl3 >= 3.0.0, << 3.0.15-1~deb12u1",
    "libc6 << 2.36-9+deb12u4",
  ]);
  const file = join(mkdtempSync(join(tmpdir(), "pn-cve-")), "runbook.md");
  const d = await pnctl("cve", "drill", "CVE-2026-4242", "--runbook", file, "--json");
  expect(d.code).toBe(0);
  const v = JSON.parse(d.out) as { exposures: { version: string; package: string }[]; riskScore: number };
  expect(v.exposures.map((e) => `${e.version} ${e.package}`)).toEqual(["1 libssl3"]);
  expect(readFileSync(file, "utf8")).toContain("# CVE-2026-4242 (high)");
  expect((await pnctl("cve", "put", "CVE-2026-4243", "--severity", "high")).err).toContain("--affects");
  expect((await pnctl("cve", "rm", "CVE-2026-4242")).code).toBe(0);
  expect((await pnctl("cve", "drill", "CVE-2026-4242")).code).toBe(1);
});
