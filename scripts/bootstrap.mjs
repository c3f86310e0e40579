#!/usr/bin/env node
// Fresh-machine set-up for powernode, run by `npm start` and `npm test` before anything else.
// Plain Node (no bun yet). Idempotent: every step checks before it acts, so a second run is quick.
//
// 1. apt sources: bookworm-backports (the node kernel) and trixie (newer erofs-utils, fsverity-utils,
//    cryptsetup), derived from the machine's own bookworm source so no mirror host is hard-coded.
//    trixie is pinned low: only packages we ask for by `-t trixie` come from it.
// 2. Debian packages, installed only when missing.
// 3. bun from the npm registry into .tools/, then `bun install` for the workspaces.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const BUN_VERSION = readFileSync(join(root, ".bun-version"), "utf8").trim();

/** Debian packages from bookworm (default release). */
const APT_BOOKWORM = [
  "postgresql-15",
  "qemu-system-x86",
  "qemu-system-arm",
  "qemu-utils",
  "ipxe-qemu",
  "attr",
  "zstd",
  "cpio",
  "openssl",
  "busybox-static",
  "iproute2",
  "e2fsprogs",
  "kmod",
  "skopeo",
];
/** Debian packages taken from trixie: versions bookworm lacks options for. */
const APT_TRIXIE = ["erofs-utils", "fsverity", "cryptsetup-bin"];

function log(msg) {
  process.stderr.write(`[setup] ${msg}\n`);
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: "inherit", ...opts });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} exited ${r.status ?? r.signal}`);
  }
}

function isRoot() {
  return process.getuid?.() === 0;
}

/** The URI and keyring of the machine's bookworm main source, from deb822 or one-line lists. */
function bookwormSource() {
  const dir = "/etc/apt/sources.list.d";
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".sources")) : [];
  for (const f of files) {
    for (const stanza of readFileSync(join(dir, f), "utf8").split(/\n\s*\n/)) {
      const field = (k) => stanza.match(new RegExp(`^${k}:\\s*(.+)$`, "mi"))?.[1]?.trim();
      const suites = field("Suites")?.split(/\s+/) ?? [];
      const uri = field("URIs")?.split(/\s+/)[0];
      if (uri && suites.includes("bookworm") && !/security/.test(uri)) {
        return { uri, signedBy: field("Signed-By") };
      }
    }
  }
  const list = "/etc/apt/sources.list";
  if (existsSync(list)) {
    for (const line of readFileSync(list, "utf8").split("\n")) {
      const m = line.match(/^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\s+main/);
      if (m?.[1]) return { uri: m[1], signedBy: undefined };
    }
  }
  throw new Error("no bookworm apt source found: cannot derive bookworm-backports/trixie sources");
}

/** Writes our apt source and pin files; returns true when something changed. */
function ensureAptSources() {
  const { uri, signedBy } = bookwormSource();
  const sig = signedBy ? `Signed-By: ${signedBy}\n` : "";
  const sources =
    `# written by powernode scripts/bootstrap.mjs\n` +
    `Types: deb\nURIs: ${uri}\nSuites: bookworm-backports trixie\nComponents: main\n${sig}`;
  const pin =
    "# written by powernode scripts/bootstrap.mjs: trixie only on request\n" +
    "Package: *\nPin: release n=trixie\nPin-Priority: 100\n";
  let changed = false;
  changed = writeIfDifferent("/etc/apt/sources.list.d/powernode.sources", sources) || changed;
  changed = writeIfDifferent("/etc/apt/preferences.d/powernode-trixie", pin) || changed;
  const foreign = execFileSync("dpkg", ["--print-foreign-architectures"], { encoding: "utf8" });
  // arm64 package lists let the image builder download arm64 kernels, libc and busybox.
  if (!foreign.split(/\s+/).includes("arm64")) {
    run("dpkg", ["--add-architecture", "arm64"]);
    changed = true;
  }
  return changed;
}

function writeIfDifferent(path, text) {
  if (existsSync(path) && readFileSync(path, "utf8") === text) return false;
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  return true;
}

function installed(pkg) {
  const r = spawnSync("dpkg-query", ["-W", "-f=" + "$" + "{Status}", pkg], { encoding: "utf8" });
  return r.status === 0 && r.stdout.includes("install ok installed");
}

function trixieInstalled(pkg) {
  if (!installed(pkg)) return false;
  const v = execFileSync("dpkg-query", ["-W", "-f=" + "$" + "{Version}", pkg], { encoding: "utf8" });
  // bookworm versions of these three are erofs-utils 1.5, fsverity 1.5, cryptsetup 2.6.
  return !/^(1\.5|2:2\.6)/.test(v);
}

function ensureApt() {
  if (!isRoot()) {
    log("not root: skipping Debian packages (run as root on a fresh machine)");
    return;
  }
  const changed = ensureAptSources();
  const missing = APT_BOOKWORM.filter((p) => !installed(p));
  const missingTrixie = APT_TRIXIE.filter((p) => !trixieInstalled(p));
  if (missing.length === 0 && missingTrixie.length === 0 && !changed) {
    log("Debian packages present");
    return;
  }
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  log("apt-get update");
  run("apt-get", ["update", "-q"], { env });
  if (missing.length > 0) {
    log(`installing ${missing.join(" ")}`);
    run("apt-get", ["install", "-y", "-q", "--no-install-recommends", ...missing], { env });
  }
  if (missingTrixie.length > 0) {
    log(`installing from trixie: ${missingTrixie.join(" ")}`);
    // `pkg/trixie` takes only these packages (and the libraries they need) from trixie, unlike
    // `-t trixie`, which prefers trixie for every package in the transaction.
    const pinned = missingTrixie.map((p) => `${p}/trixie`);
    run("apt-get", ["install", "-y", "-q", "--no-install-recommends", ...pinned], { env });
  }
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
  writeIfDifferent(join(root, ".tools/package.json"), '{ "private": true }\n');
  run("npm", ["install", "--no-audit", "--no-fund", "--prefix", join(root, ".tools"), `bun@${BUN_VERSION}`]);
  return bin;
}

function ensureDeps(bun) {
  log("bun install");
  run(bun, ["install", "--frozen-lockfile"], { cwd: root });
}

function main() {
  const what = process.argv[2] ?? "setup";
  ensureApt();
  const bun = ensureBun();
  ensureDeps(bun);
  if (what === "setup") return;
  const script = { test: "scripts/test.ts", start: "scripts/start.ts" }[what];
  if (!script) throw new Error(`unknown command ${what}`);
  const r = spawnSync(bun, [join(root, script), ...process.argv.slice(3)], { stdio: "inherit", cwd: root });
  process.exit(r.status ?? 1);
}

try {
  main();
} catch (err) {
  log(`failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
