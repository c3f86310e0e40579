/**
 * `bun run gen`: regenerates committed generated code. `--check` regenerates into a scratch place and
 * fails (listing the files) when the committed copy differs: the drift check `npm test` runs.
 *
 * - proto: `buf generate` (protoc-gen-es, target=ts) -> proto/src/gen
 * - drizzle: `drizzle-kit generate` -> hub/drizzle (a schema change without a migration is drift)
 */
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { run } from "./lib/exec.ts";

const root = join(import.meta.dir, "..");
const bun = process.execPath;
const check = process.argv.includes("--check");

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return (readdirSync(dir, { recursive: true, withFileTypes: true }) as import("node:fs").Dirent[])
    .filter((d) => d.isFile())
    .map((d) => relative(dir, join(d.parentPath, d.name)))
    .sort();
}

/** Files that differ between two trees (added, removed or changed). */
function diffTrees(a: string, b: string): string[] {
  const fa = listFiles(a);
  const fb = listFiles(b);
  const all = [...new Set([...fa, ...fb])].sort();
  return all.filter((f) => {
    const pa = join(a, f);
    const pb = join(b, f);
    if (!existsSync(pa) || !existsSync(pb)) return true;
    return !readFileSync(pa).equals(readFileSync(pb));
  });
}

async function proto(): Promise<string[]> {
  const protoDir = join(root, "proto");
  if (!check) {
    await run(bun, ["x", "buf", "generate"], { cwd: protoDir });
    return [];
  }
  const scratch = mkdtempSync(join(tmpdir(), "powernode-gen-"));
  try {
    await run(bun, ["x", "buf", "generate", "-o", scratch], { cwd: protoDir });
    return diffTrees(join(protoDir, "src/gen"), join(scratch, "src/gen")).map((f) => `proto/src/gen/${f}`);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

async function drizzle(): Promise<string[]> {
  const hubDir = join(root, "hub");
  const out = join(hubDir, "drizzle");
  if (!existsSync(join(hubDir, "drizzle.config.ts"))) return [];
  const backup = mkdtempSync(join(tmpdir(), "powernode-drizzle-"));
  if (existsSync(out)) cpSync(out, backup, { recursive: true });
  try {
    await run(bun, ["x", "drizzle-kit", "generate"], { cwd: hubDir, timeoutMs: 120_000 });
    const changed = diffTrees(backup, out).map((f) => `hub/drizzle/${f}`);
    if (check && changed.length > 0) {
      // Put the committed migrations back: a check never leaves generated files behind.
      rmSync(out, { recursive: true, force: true });
      cpSync(backup, out, { recursive: true });
    }
    return check ? changed : [];
  } finally {
    rmSync(backup, { recursive: true, force: true });
  }
}

const drift = [...(await proto()), ...(await drizzle())];
if (check) {
  if (drift.length > 0) {
    console.error(`generated code is out of date (run \`bun run gen\` and commit):\n  ${drift.join("\n  ")}`);
    process.exit(1);
  }
  console.log("generated code matches its sources (proto/src/gen, hub/drizzle)");
} else {
  console.log("regenerated proto/src/gen and hub/drizzle");
}
