#!/usr/bin/env node
// Fresh-machine set-up for powernode, run by `npm start`, `npm test` and `npm run setup` before anything
// else. Plain Node (no bun yet). Idempotent: every step checks before it acts, so a second run is quick.
//
// 1. System-wide Debian packages, only from the host's release (scripts/setup/apt.mjs); the one apt
//    source added is bookworm-backports (the node kernel is downloaded from it, never installed).
// 2. Tools newer than bookworm's, unpacked into .tools/ (scripts/setup/private-tools.mjs).
// 3. bun from the npm registry into .tools/, then `bun install` for the workspaces.
// What this changes on the machine, and how to undo it: README.md, "What set-up installs".
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureSystemPackages } from "./setup/apt.mjs";
import { cacheDir } from "./setup/cache.mjs";
import { ensurePrivateTools } from "./setup/private-tools.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const BUN_VERSION = readFileSync(join(root, ".bun-version"), "utf8").trim();

function log(msg) {
  process.stderr.write(`[setup] ${msg}\n`);
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: "inherit", ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status ?? r.signal}`);
}

/** bun from the npm registry (the `bun` package ships the binary as an optional dependency). */
function ensureBun() {
  const bin = join(root, ".tools/node_modules/.bin/bun");
  if (existsSync(bin)) {
    const v = spawnSync(bin, ["--version"], { encoding: "utf8" }).stdout?.trim();
    if (v === BUN_VERSION) return bin;
  }
  log(`installing bun ${BUN_VERSION} from npm into .tools/`);
  mkdirSync(join(root, ".tools"), { recursive: true });
  const pkg = join(root, ".tools/package.json");
  if (!existsSync(pkg)) writeFileSync(pkg, '{ "private": true }\n');
  run("npm", ["install", "--no-audit", "--no-fund", "--prefix", join(root, ".tools"), `bun@${BUN_VERSION}`]);
  return bin;
}

function main() {
  const what = process.argv[2] ?? "setup";
  const script = { setup: undefined, test: "scripts/test.ts", start: "scripts/start.ts" }[what];
  if (script === undefined && what !== "setup")
    throw new Error(`unknown command ${what} (setup, test, start)`);
  if (process.getuid?.() === 0) {
    ensureSystemPackages(log);
    ensurePrivateTools(root, cacheDir(), log);
  } else {
    log("not root: skipping Debian packages and private tools (run as root on a fresh machine)");
  }
  const bun = ensureBun();
  log("bun install");
  run(bun, ["install", "--frozen-lockfile"], { cwd: root });
  if (!script) return;
  const r = spawnSync(bun, [join(root, script), ...process.argv.slice(3)], { stdio: "inherit", cwd: root });
  process.exit(r.status ?? 1);
}

try {
  main();
} catch (err) {
  log(`failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
