// Tools newer than the host's release ships (private-tools.json: erofs-utils 1.8, fsverity 1.6,
// veritysetup 2.7 from trixie), unpacked into .tools/debian-<release>/ and run through that tree's own
// dynamic loader and libraries by small wrappers in .tools/bin/. Nothing is installed system-wide: apt
// runs with a private source list, lists, cache and an empty dpkg status (so it resolves the whole
// library closure), downloading into the per-user cache; apt checks every file against the signed index.
import { execFileSync, spawnSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { mainSource } from "./apt.mjs";

const spec = JSON.parse(readFileSync(new URL("../../lib/exec/private-tools.json", import.meta.url), "utf8"));

/** The dynamic loader of a Debian arch, relative to the tree root (merged /usr). */
const LOADERS = {
  amd64: { ld: "usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", triplet: "x86_64-linux-gnu" },
  arm64: { ld: "usr/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1", triplet: "aarch64-linux-gnu" },
};

/** A stamp of what the tree holds; a changed spec unpacks it anew. */
function stampOf(arch) {
  return JSON.stringify({ release: spec.release, packages: spec.packages, tools: spec.tools, arch });
}

/** The private apt options: everything under `dir`, nothing of the system's apt state. */
function aptOptions(dir) {
  return [
    `-o=Dir::Etc::SourceList=${join(dir, "sources.list")}`,
    "-o=Dir::Etc::SourceParts=/dev/null",
    "-o=Dir::Etc::Preferences=/dev/null",
    "-o=Dir::Etc::PreferencesParts=/dev/null",
    `-o=Dir::State::Lists=${join(dir, "lists")}`,
    `-o=Dir::State::status=${join(dir, "status")}`,
    `-o=Dir::Cache=${join(dir, "cache")}`,
    "-o=Debug::NoLocking=1",
    `-o=APT::Default-Release=${spec.release}`,
    "-o=APT::Install-Recommends=false",
    ...(process.getuid?.() === 0 ? ["-o=APT::Sandbox::User=root"] : []),
  ];
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { stdio: ["ignore", "pipe", "inherit"], encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status ?? r.signal}`);
  return r.stdout;
}

/**
 * Makes sure .tools/bin/<tool> runs each tool of private-tools.json; `root` is the clone, `cache` the
 * per-user cache. Returns the bin directory.
 */
export function ensurePrivateTools(root, cache, log) {
  const arch = execFileSync("dpkg", ["--print-architecture"], { encoding: "utf8" }).trim();
  const loader = LOADERS[arch];
  if (!loader) throw new Error(`private tools: no loader known for architecture ${arch}`);
  const tree = join(root, ".tools", `debian-${spec.release}`);
  const bin = join(root, ".tools", "bin");
  const stampFile = join(tree, ".stamp");
  if (existsSync(stampFile) && readFileSync(stampFile, "utf8") === stampOf(arch) && wrappersPresent(bin)) {
    return bin;
  }
  const apt = join(cache, "apt", `${spec.release}-${arch}`);
  for (const d of ["lists/partial", "cache/archives/partial"]) mkdirSync(join(apt, d), { recursive: true });
  const { uri, signedBy } = mainSource("bookworm");
  const sig = signedBy ? ` [signed-by=${signedBy}]` : "";
  writeFileSync(join(apt, "sources.list"), `deb${sig} ${uri} ${spec.release} main\n`);
  writeFileSync(join(apt, "status"), "");
  const opts = aptOptions(apt);
  log(`private tools: ${spec.packages.join(" ")} from ${spec.release} into .tools/ (nothing system-wide)`);
  run("apt-get", [...opts, "update", "-q"]);
  run("apt-get", [...opts, "install", "--download-only", "-y", "-q", ...spec.packages]);
  // The closure apt chose: the .debs its simulated install names, fetched into the cache just now.
  const sim = run("apt-get", [...opts, "install", "-s", "-y", ...spec.packages]);
  const debs = [...sim.matchAll(/^Inst (\S+) \((\S+) /gm)].map(([, pkg, ver]) => {
    const name = `${pkg.replace(/:.*$/, "")}_${ver.replace(":", "%3a")}_`;
    const file = readdirSync(join(apt, "cache/archives")).find((f) => f.startsWith(name));
    if (!file) throw new Error(`private tools: ${pkg} ${ver} was not downloaded`);
    return join(apt, "cache/archives", file);
  });
  const tmp = `${tree}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  for (const deb of debs) run("dpkg-deb", ["-x", deb, tmp]);
  if (!existsSync(join(tmp, loader.ld))) throw new Error(`private tools: ${loader.ld} missing from the tree`);
  rmSync(tree, { recursive: true, force: true });
  renameSync(tmp, tree);
  writeWrappers(tree, bin, loader);
  writeFileSync(stampFile, stampOf(arch));
  return bin;
}

function wrappersPresent(bin) {
  return Object.keys(spec.tools).every((t) => existsSync(join(bin, t)));
}

/** One shell wrapper per tool: the tree's loader, its library path, the tool, the caller's argv. */
function writeWrappers(tree, bin, loader) {
  mkdirSync(bin, { recursive: true });
  const libs = [`usr/lib/${loader.triplet}`, `lib/${loader.triplet}`].map((d) => join(tree, d)).join(":");
  for (const [tool, path] of Object.entries(spec.tools)) {
    if (!existsSync(join(tree, path))) throw new Error(`private tools: ${path} missing from the tree`);
    const text =
      "#!/bin/sh\n" +
      `# ${tool} from Debian ${spec.release}, run with its own loader and libraries (scripts/setup/private-tools.mjs)\n` +
      `exec '${join(tree, loader.ld)}' --library-path '${libs}' '${join(tree, path)}' "$@"\n`;
    mkdirSync(dirname(join(bin, tool)), { recursive: true });
    writeFileSync(join(bin, tool), text);
    chmodSync(join(bin, tool), 0o755);
  }
}
