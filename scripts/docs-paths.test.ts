/**
 * Docs name files that exist: every repository path written in backticks in README.md and docs/
 * (`hub/src/...`, `node-agent/...`, ...) is a file or folder of the clone, or an ignored build output
 * (`git check-ignore`), such as `initramfs/build`. Superseded decisions are history and are skipped.
 */
import { expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { run } from "./lib/exec.ts";

const repo = join(import.meta.dir, "..");
const TOP = [
  "proto",
  "hub",
  "node-agent",
  "composefs",
  "initramfs",
  "smokes",
  "scripts",
  "docs",
  "modules",
  "bench",
  "lib",
  "web",
];
const PATH_RE = new RegExp(`\`((?:${TOP.join("|")})/[A-Za-z0-9_./-]+)\``, "g");

/** A superseded decision is history: it names the paths of its time. */
function superseded(doc: string): boolean {
  return /^\*\*Status:\*\* superseded/m.test(readFileSync(join(repo, doc), "utf8"));
}

function docs(): string[] {
  const out = ["README.md"];
  for (const f of readdirSync(join(repo, "docs"), { recursive: true }) as string[]) {
    if (f.endsWith(".md") && !superseded(join("docs", f))) out.push(join("docs", f));
  }
  return out;
}

/** Ignored by .gitignore as a file or as a folder (a `dir/` pattern matches only what is inside). */
async function ignored(path: string): Promise<boolean> {
  const r = await run("git", ["check-ignore", "--no-index", path, `${path}/x`], {
    cwd: repo,
    allowFailure: true,
  });
  return r.exitCode === 0;
}

test("every repository path in the docs exists", async () => {
  const missing: string[] = [];
  let checked = 0;
  for (const doc of docs()) {
    for (const m of readFileSync(join(repo, doc), "utf8").matchAll(PATH_RE)) {
      const path = (m[1] ?? "").replace(/[/.]+$/, "");
      if (path.includes("*")) continue;
      checked++;
      if (!existsSync(join(repo, path)) && !(await ignored(path))) missing.push(`${doc}: ${path}`);
    }
  }
  expect(checked).toBeGreaterThan(50);
  expect(missing).toEqual([]);
}, 60_000);
