/**
 * `npm test`: every suite of the project, in order, ending with one line `N passed, N failed`.
 *
 *   bun scripts/test.ts [--only static,unit,postgres,smoke] [--suites REGEX] [--full]
 *
 * --full also runs the full tiers of FULL_PASSES (`npm run test:full`, about 6 minutes more).
 * --suites keeps only the suites whose name (as printed in the summary) matches REGEX, e.g.
 * `--suites '^(unit composefs|postgres hub)$'` (the fresh-machine check uses it).
 *
 * static   biome, tsc, buf lint, import rules (scripts/check-imports.ts), generated-code drift (proto, drizzle)
 * unit     `bun test <package>` for each workspace package with tests (PGlite for the database)
 * postgres the `*.db.test.ts` files again against a throwaway PostgreSQL 15
 * smoke    `bun smokes/passN.ts --tier db` for each pass, `bun smokes/console.ts` (the web console in
 *          Chromium), pass 1 at `--tier single` on amd64 and arm64,
 *          the passes in SINGLE_PASSES at `--tier single` on amd64 (pass 2: Docker on a node),
 *          `bun smokes/modules.ts --tier single` (modules on a QEMU node) and `bun smokes/registries.ts
 *          --tier single` (modules from an operator's registry) on amd64, and the site tier
 *          (several QEMU nodes on a lab network) of the passes listed in SITE_PASSES, on amd64
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { startThrowawayPostgres } from "./lib/postgres.ts";
import { parseBunTest, parseClosingLine, runSuite, type SuiteResult, type SuiteSpec } from "./lib/suite.ts";

const root = join(import.meta.dir, "..");
const bun = process.execPath;
const PACKAGES = ["proto", "lib", "composefs", "hub", "node-agent", "initramfs", "smokes", "scripts", "web"];

function hasTests(dir: string, suffix = ".test.ts"): boolean {
  const abs = join(root, dir);
  if (!existsSync(abs)) return false;
  return (readdirSync(abs, { recursive: true }) as string[]).some(
    (f) => f.endsWith(suffix) && !f.includes("node_modules"),
  );
}

function staticSuites(): SuiteSpec[] {
  const bin = (name: string) => join(root, "node_modules/.bin", name);
  return [
    { name: "biome", cmd: bin("biome"), args: ["check", "."], cwd: root, timeoutMs: 120_000 },
    {
      name: "tsc",
      cmd: bin("tsc"),
      args: ["--noEmit", "-p", "tsconfig.json"],
      cwd: root,
      timeoutMs: 300_000,
    },
    {
      // The web console is typed against the DOM (its own tsconfig: the rest of the repo has no DOM lib).
      name: "tsc web",
      cmd: bin("tsc"),
      args: ["--noEmit", "-p", "web/tsconfig.json"],
      cwd: root,
      timeoutMs: 300_000,
    },
    { name: "buf lint", cmd: bun, args: ["x", "buf", "lint"], cwd: join(root, "proto"), timeoutMs: 120_000 },
    {
      name: "import rules",
      cmd: bun,
      args: ["scripts/check-imports.ts"],
      cwd: root,
      timeoutMs: 60_000,
      parse: parseClosingLine,
    },
    {
      name: "generated code drift",
      cmd: bun,
      args: ["scripts/gen.ts", "--check"],
      cwd: root,
      timeoutMs: 180_000,
    },
  ];
}

function unitSuites(): SuiteSpec[] {
  return PACKAGES.filter((p) => hasTests(p)).map((p) => ({
    name: `unit ${p}`,
    cmd: bun,
    args: ["test", `./${p}/`],
    cwd: root,
    timeoutMs: 600_000,
    parse: parseBunTest,
  }));
}

/**
 * Passes whose site tier is in `npm test`, with the flags they need on this machine: pass 3 (three
 * QEMU nodes on a lab: the mesh), pass 6 (four: NFS over the mesh, a gateway, fscrypt) and pass 9
 * (three: a rolling module upgrade, the CVE drill on real lists, drain -> reprovision, VIP failover;
 * its k3s-binary checks are reported `missing: k3s binary` and not counted, as pass 2's).
 */
const SITE_PASSES: readonly { file: string; flags: string[] }[] = [
  { file: "pass3.ts", flags: [] },
  { file: "pass6.ts", flags: [] },
  { file: "pass9.ts", flags: ["--allow-missing"] },
];

/**
 * Passes whose single tier is in `npm test` (pass 1's is above, on both arches), on amd64, with the
 * flags they need on this machine: pass 2 runs without a k3s binary (none can be installed here), so its
 * two live K3s checks are reported `missing: k3s binary` and not counted (docs/smokes.md).
 */
const SINGLE_PASSES: readonly { file: string; flags: string[] }[] = [
  { file: "pass2.ts", flags: ["--allow-missing"] },
  // Pass 8: a node netboots by iPXE from the hub, another boots the x86-efi disk image under OVMF;
  // both enter claim mode, are confirmed and enroll (about 2.5 min under TCG with an image rebuild).
  { file: "pass8.ts", flags: [] },
  // Pass 6: a persistent node keeps /var across a module swap and a reboot (about 2 min).
  { file: "pass6.ts", flags: [] },
];

/**
 * Passes whose full tier `npm run test:full` (`--full`) runs in place of their db tier (a full tier
 * runs the db tier's checks first): pass 4 (a hub on a QEMU node from the powernode-hub template, a
 * node of its own, federation with the host's hub; about 5.5 min under TCG). `npm test` runs their db
 * tier: with the full tier it does not fit 45 minutes on two TCG cores (docs/smokes.md).
 */
const FULL_PASSES = ["pass4.ts"];

/** `--full`: the full tiers of FULL_PASSES too (`npm run test:full`). */
const FULL = process.argv.includes("--full");

function smokeSuites(): SuiteSpec[] {
  const dir = join(root, "smokes");
  if (!existsSync(dir)) return [];
  const passes = readdirSync(dir)
    .filter((f) => /^pass\d+\.ts$/.test(f))
    .sort((a, b) => Number(a.match(/\d+/)?.[0]) - Number(b.match(/\d+/)?.[0]));
  const specs: SuiteSpec[] = passes.map((f) => {
    const tier = FULL && FULL_PASSES.includes(f) ? "full" : "db";
    return {
      name: `smoke ${f} --tier ${tier}${tier === "full" ? " --arch amd64" : ""}`,
      cmd: bun,
      args: [join("smokes", f), "--tier", tier, ...(tier === "full" ? ["--arch", "amd64"] : [])],
      cwd: root,
      timeoutMs: tier === "full" ? 1_500_000 : 600_000,
      parse: parseClosingLine,
    };
  });
  if (existsSync(join(dir, "console.ts"))) {
    // The web console in Debian's Chromium, headless, against a hub with two in-process nodes (~20 s).
    specs.push({
      name: "smoke console.ts --tier db",
      cmd: bun,
      args: ["smokes/console.ts", "--tier", "db"],
      cwd: root,
      timeoutMs: 300_000,
      parse: parseClosingLine,
    });
  }
  if (existsSync(join(dir, "ha.ts"))) {
    // The hub scaled out: two hub processes on one throwaway PostgreSQL, a node failing over (~15 s).
    specs.push({
      name: "smoke ha.ts --tier db",
      cmd: bun,
      args: ["smokes/ha.ts", "--tier", "db"],
      cwd: root,
      timeoutMs: 300_000,
      parse: parseClosingLine,
    });
  }
  if (passes.includes("pass1.ts")) {
    // The boot chain on real QEMU nodes, both architectures (arm64 adds about 1.5-3 min with its build).
    for (const arch of ["amd64", "arm64"]) {
      specs.push({
        name: `smoke pass1.ts --tier single --arch ${arch}`,
        cmd: bun,
        args: ["smokes/pass1.ts", "--tier", "single", "--arch", arch],
        cwd: root,
        timeoutMs: 900_000,
        parse: parseClosingLine,
      });
    }
  }
  for (const { file, flags } of SINGLE_PASSES.filter((p) => passes.includes(p.file))) {
    specs.push({
      name: `smoke ${file} --tier single --arch amd64${flags.length ? ` ${flags.join(" ")}` : ""}`,
      cmd: bun,
      args: [join("smokes", file), "--tier", "single", "--arch", "amd64", ...flags],
      cwd: root,
      timeoutMs: 1_200_000,
      parse: parseClosingLine,
    });
  }
  for (const { file: f, flags } of SITE_PASSES.filter((p) => passes.includes(p.file))) {
    specs.push({
      name: `smoke ${f} --tier site --arch amd64${flags.length ? ` ${flags.join(" ")}` : ""}`,
      cmd: bun,
      args: [join("smokes", f), "--tier", "site", "--arch", "amd64", ...flags],
      cwd: root,
      timeoutMs: 1_200_000,
      parse: parseClosingLine,
    });
  }
  if (existsSync(join(dir, "modules.ts"))) {
    // Modules on a QEMU node: build, publish, compose, live add/remove, tamper (about 2-3 min warm).
    specs.push({
      name: "smoke modules.ts --tier single --arch amd64",
      cmd: bun,
      args: ["smokes/modules.ts", "--tier", "single", "--arch", "amd64"],
      cwd: root,
      timeoutMs: 900_000,
      parse: parseClosingLine,
    });
  }
  if (existsSync(join(dir, "registries.ts"))) {
    // Modules from an operator's registry (docker-registry, htpasswd) on a QEMU node (about 1.5 min).
    specs.push({
      name: "smoke registries.ts --tier single --arch amd64",
      cmd: bun,
      args: ["smokes/registries.ts", "--tier", "single", "--arch", "amd64"],
      cwd: root,
      timeoutMs: 900_000,
      parse: parseClosingLine,
    });
  }
  return specs;
}

async function postgresSuites(results: SuiteResult[], wanted: (name: string) => boolean): Promise<void> {
  const pkgs = PACKAGES.filter((p) => hasTests(p, ".db.test.ts") && wanted(`postgres ${p}`));
  if (pkgs.length === 0) return;
  let pg: Awaited<ReturnType<typeof startThrowawayPostgres>>;
  try {
    pg = await startThrowawayPostgres();
  } catch (err) {
    results.push({ name: "postgres start", passed: 0, failed: 1, seconds: 0, note: String(err) });
    return;
  }
  try {
    for (const p of pkgs) {
      results.push(
        await runSuite({
          name: `postgres ${p}`,
          cmd: bun,
          args: ["test", ...dbFilter(p)],
          cwd: root,
          env: { TEST_DATABASE_URL: pg.url },
          timeoutMs: 600_000,
          parse: parseBunTest,
        }),
      );
    }
  } finally {
    await pg.stop();
  }
}

/** The `*.db.test.ts` files of a package, as explicit paths for bun test. */
function dbFilter(pkg: string): string[] {
  const abs = join(root, pkg);
  return (readdirSync(abs, { recursive: true }) as string[])
    .filter((f) => f.endsWith(".db.test.ts") && !f.includes("node_modules"))
    .map((f) => `./${join(pkg, f)}`);
}

function parseOnly(argv: string[]): Set<string> {
  const i = argv.indexOf("--only");
  const all = ["static", "unit", "postgres", "smoke"];
  if (i < 0) return new Set(all);
  const wanted = (argv[i + 1] ?? "").split(",").filter(Boolean);
  const unknown = wanted.filter((w) => !all.includes(w));
  if (unknown.length > 0 || wanted.length === 0) {
    console.error(`--only takes a comma list of ${all.join(", ")}; got ${argv[i + 1] ?? "nothing"}`);
    process.exit(2);
  }
  return new Set(wanted);
}

/** The --suites filter: a name test (everything when absent). */
function parseSuites(argv: string[]): (name: string) => boolean {
  const i = argv.indexOf("--suites");
  if (i < 0) return () => true;
  const src = argv[i + 1] ?? "";
  try {
    const re = new RegExp(src);
    return (name) => re.test(name);
  } catch (e) {
    console.error(`--suites takes a regular expression; ${JSON.stringify(src)}: ${(e as Error).message}`);
    process.exit(2);
  }
}

async function main(): Promise<void> {
  const only = parseOnly(process.argv.slice(2));
  const wanted = parseSuites(process.argv.slice(2));
  const started = performance.now();
  const results: SuiteResult[] = [];
  const runAll = async (specs: SuiteSpec[]) => {
    for (const s of specs) if (wanted(s.name)) results.push(await runSuite(s));
  };
  if (only.has("static")) await runAll(staticSuites());
  if (only.has("unit")) await runAll(unitSuites());
  if (only.has("postgres")) await postgresSuites(results, wanted);
  if (only.has("smoke")) await runAll(smokeSuites());

  const passed = results.reduce((n, r) => n + r.passed, 0);
  const failed = results.reduce((n, r) => n + r.failed, 0);
  console.log("\n=== summary");
  for (const r of results) {
    const mark = r.failed === 0 ? "ok  " : "FAIL";
    const note = r.note ? `  (${r.note})` : "";
    console.log(
      `${mark} ${r.name.padEnd(48)} ${r.passed} passed, ${r.failed} failed, ${r.seconds.toFixed(1)} s${note}`,
    );
  }
  console.log(`total ${((performance.now() - started) / 1000).toFixed(0)} s`);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 && results.length > 0 ? 0 : 1);
}

await main();
