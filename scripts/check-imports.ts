/**
 * `bun scripts/check-imports.ts`: the import rules of docs/conventions.md, checked on every tracked
 * TypeScript file (in `npm test`). Each forbidden import is printed as `file:line: <importer> may not
 * import <target> (<spec>)`; the exit code is the number of them (0 = clean), and the last line is
 * the usual `N passed, N failed`.
 *
 * | package | may import (besides libraries) |
 * | proto | nothing |
 * | lib/* | other lib/* packages |
 * | composefs | lib/* |
 * | hub, node-agent | proto, lib/*, composefs; never each other. Their tests may use scripts/lib helpers |
 * | initramfs | proto, lib/*, composefs |
 * | web | proto (the browser-safe `@powernode/proto/browser`); hub/src/console may import web's build |
 * | smokes, bench, scripts | anything |
 */
import { readFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { run } from "./lib/exec.ts";

const root = join(import.meta.dir, "..");

/** The package a repo path belongs to (`lib/exec`, `hub`, ...). */
export function packageOf(path: string): string {
  const parts = path.split("/");
  if (parts[0] === "lib" && parts[1]) return `lib/${parts[1]}`;
  return parts[0] ?? "";
}

const WORKSPACE: Record<string, string> = {
  "@powernode/proto": "proto",
  "@powernode/exec": "lib/exec",
  "@powernode/oci": "lib/oci",
  "@powernode/debian": "lib/debian",
  "@powernode/composefs": "composefs",
  "@powernode/hub": "hub",
  "@powernode/node-agent": "node-agent",
  "@powernode/initramfs": "initramfs",
  "@powernode/smokes": "smokes",
  "@powernode/web": "web",
};

const isLib = (p: string) => p.startsWith("lib/");
const isTestFile = (f: string) => /\.test\.ts$/.test(f) || /(^|\/)test\//.test(f);

/** Why `from` may not import `to` (undefined: allowed). `file` is the importer's path. */
export function forbidden(file: string, from: string, to: string, target: string): string | undefined {
  if (from === to) return undefined;
  const anything = ["smokes", "bench", "scripts"];
  if (anything.includes(from)) return undefined;
  const base = ["proto", "composefs"];
  let allowed: (p: string) => boolean;
  switch (from) {
    case "proto":
      allowed = () => false;
      break;
    case "composefs":
      allowed = isLib;
      break;
    case "hub":
    case "node-agent":
    case "initramfs":
      allowed = (p) => isLib(p) || base.includes(p);
      break;
    case "web":
      allowed = (p) => p === "proto";
      break;
    default:
      allowed = isLib(from) ? isLib : () => true;
  }
  if (allowed(to)) return undefined;
  // The hub's console feature builds and serves the web console (web/build.ts).
  if (from === "hub" && to === "web" && file.startsWith("hub/src/console/")) return undefined;
  // Tests of hub and node-agent may use the scripts' helpers (a throwaway PostgreSQL, exec).
  if ((from === "hub" || from === "node-agent") && isTestFile(file) && target.startsWith("scripts/lib/"))
    return undefined;
  return `${from} may not import ${to}`;
}

const SPEC_RE =
  /(?:^|[^.\w])(?:import|export)\s[^;]*?\sfrom\s*["']([^"']+)["']|(?:^|[^.\w])import\s*\(\s*["']([^"']+)["']\s*\)|^\s*import\s+["']([^"']+)["']/gm;

/** The import specifiers of a source text, with their line numbers. */
export function importsOf(text: string): { spec: string; line: number }[] {
  const out: { spec: string; line: number }[] = [];
  for (const m of text.matchAll(SPEC_RE)) {
    const spec = m[1] ?? m[2] ?? m[3];
    if (!spec) continue;
    const at = (m.index ?? 0) + m[0].indexOf(spec);
    out.push({ spec, line: text.slice(0, at).split("\n").length });
  }
  return out;
}

/** The repo path an import points at, or undefined for a library. */
function targetOf(file: string, spec: string): string | undefined {
  if (spec.startsWith(".")) return normalize(join(dirname(file), spec));
  const ws = Object.keys(WORKSPACE).find((w) => spec === w || spec.startsWith(`${w}/`));
  return ws ? (WORKSPACE[ws] as string) : undefined;
}

async function main(): Promise<number> {
  const files = (await run("git", ["ls-files", "-co", "--exclude-standard", "*.ts"], { cwd: root })).stdout
    .split("\n")
    .filter((f) => f !== "" && !f.includes("/gen/") && !f.includes("node_modules/"));
  let problems = 0;
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(join(root, file), "utf8");
    } catch {
      continue; // deleted in the working tree
    }
    const from = packageOf(file);
    for (const { spec, line } of importsOf(text)) {
      const target = targetOf(file, spec);
      if (target === undefined) continue;
      const why = forbidden(file, from, packageOf(relative(".", target)), target);
      if (why) {
        problems++;
        console.log(`${file}:${line}: ${why} (${spec})`);
      }
    }
  }
  console.log(`checked ${files.length} files`);
  console.log(problems === 0 ? "1 passed, 0 failed" : `0 passed, ${problems} failed`);
  return problems;
}

if (import.meta.main) process.exit(Math.min(await main(), 1));
