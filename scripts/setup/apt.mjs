// System-wide Debian packages: only from the host's own release (bookworm, -updates, -security) and
// bookworm-backports. Before apt installs anything, a simulated run is read and set-up refuses if any
// package would come from another release (that is how a C library upgrade or a release change starts).
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

/** Debian packages set-up installs system-wide (all from the host's release). */
export const SYSTEM_PACKAGES = [
  "postgresql-15",
  "qemu-system-x86",
  "qemu-system-arm",
  "qemu-utils",
  "ipxe-qemu",
  "attr",
  "zstd",
  "xz-utils",
  "cpio",
  "openssl",
  "busybox-static",
  "iproute2",
  "tcpdump",
  // An operator peer on this machine (`pnctl net join <network>`): the host kernel may lack WireGuard.
  "wireguard-go",
  "wireguard-tools",
  "e2fsprogs",
  "kmod",
  "skopeo",
  "git",
  "ca-certificates",
  // ACME tests (smokes/pass5.ts, bench/acme.ts): a test CA (pebble, pebble-challtestsrv) and an
  // authoritative DNS server taking TSIG-signed updates for the rfc2136 solver.
  "pebble",
  "bind9",
  // The web console's smoke (smokes/console.ts) drives Debian's Chromium headless (playwright-core).
  "chromium",
  // Disk images (pnctl image build, smokes/pass8.ts): GPT, a FAT boot partition written without
  // mounting, the EFI stub a kernel + initramfs + cmdline become one UKI with, UEFI firmware for QEMU.
  "fdisk",
  "dosfstools",
  "mtools",
  "systemd-boot-efi",
  "ovmf",
  // arm64 UEFI for QEMU (AAVMF): the arm64-efi image boots under it in pass 8.
  "qemu-efi-aarch64",
];

/** Files set-up writes under /etc/apt (the README lists them with how to undo them). */
export const APT_SOURCES_FILE = "/etc/apt/sources.list.d/powernode.sources";
/** Written by earlier set-ups (trixie pinned low); removed when found. */
const OLD_TRIXIE_PIN = "/etc/apt/preferences.d/powernode-trixie";

/** The host's release from /etc/os-release: codename and major version. */
export function hostRelease(osRelease = readFileSync("/etc/os-release", "utf8")) {
  const field = (k) => osRelease.match(new RegExp(`^${k}="?([^"\\n]*)"?$`, "m"))?.[1] ?? "";
  return {
    codename: field("VERSION_CODENAME"),
    versionId: field("VERSION_ID"),
    pretty: field("PRETTY_NAME"),
  };
}

/** The URI and keyring of the machine's main source for `codename`, from deb822 or one-line lists. */
export function mainSource(codename) {
  const dir = "/etc/apt/sources.list.d";
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".sources")) : [];
  for (const f of files) {
    if (join(dir, f) === APT_SOURCES_FILE) continue;
    for (const stanza of readFileSync(join(dir, f), "utf8").split(/\n\s*\n/)) {
      const field = (k) => stanza.match(new RegExp(`^${k}:\\s*(.+)$`, "mi"))?.[1]?.trim();
      const suites = field("Suites")?.split(/\s+/) ?? [];
      const uri = field("URIs")?.split(/\s+/)[0];
      if (uri && suites.includes(codename) && !/security/.test(uri)) {
        return { uri, signedBy: field("Signed-By") };
      }
    }
  }
  const list = "/etc/apt/sources.list";
  if (existsSync(list)) {
    for (const line of readFileSync(list, "utf8").split("\n")) {
      const m = line.match(
        new RegExp(
          `^deb\\s+(?:\\[[^\\]]*signed-by=([^\\]\\s]+)[^\\]]*\\]\\s+|\\[[^\\]]*\\]\\s+)?(\\S+)\\s+${codename}\\s+main`,
        ),
      );
      if (m?.[2]) return { uri: m[2], signedBy: m[1] };
    }
  }
  throw new Error(`no apt source for ${codename} found: cannot derive the ${codename}-backports source`);
}

/**
 * Reads `apt-get -s install` output: one entry per package apt would install or upgrade, with the
 * version before (undefined for a new package), the version after, and the release labels it comes from.
 */
export function parseSimulation(text) {
  const out = [];
  for (const line of text.split("\n")) {
    const m = line.match(/^Inst (\S+) (?:\[([^\]]*)\] )?\((\S+) ([^[]*?)\s*\[[^\]]*\]\)/);
    if (m) out.push({ pkg: m[1], from: m[2], to: m[3], labels: m[4].split(",").map((s) => s.trim()) });
  }
  return out;
}

/**
 * The entries of a simulation that would take a package from a release other than the host's: a label
 * names the host's version (`Debian:12.x/...`, `Debian-Security:12/...`) or its codename (backports).
 */
export function foreignInstalls(entries, release) {
  const ours = (label) => {
    const at = label.indexOf(":");
    const rest = at >= 0 ? label.slice(at + 1) : label;
    return (
      rest.startsWith(`${release.versionId}.`) ||
      rest.startsWith(`${release.versionId}/`) ||
      rest.startsWith(`${release.codename}-`) ||
      rest.startsWith(`${release.codename}/`)
    );
  };
  return entries.filter((e) => !e.labels.some(ours));
}

function writeIfDifferent(path, text) {
  if (existsSync(path) && readFileSync(path, "utf8") === text) return false;
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  return true;
}

/**
 * The backports source (the node kernel), the release's non-free-firmware component (raspi-firmware,
 * the Raspberry Pi boot blobs of `pnctl image build --platform rpi4|rpi5`; only downloaded, never
 * installed), and arm64 package lists; true when something changed.
 */
function ensureSources(release) {
  const { uri, signedBy } = mainSource(release.codename);
  const sig = signedBy ? `Signed-By: ${signedBy}\n` : "";
  const sources =
    "# written by powernode scripts/setup/apt.mjs: the node kernel comes from backports\n" +
    `Types: deb\nURIs: ${uri}\nSuites: ${release.codename}-backports\nComponents: main\n${sig}` +
    "\n# the Raspberry Pi firmware (raspi-firmware) for the Pi disk images\n" +
    `Types: deb\nURIs: ${uri}\nSuites: ${release.codename}\nComponents: non-free-firmware\n${sig}`;
  let changed = writeIfDifferent(APT_SOURCES_FILE, sources);
  if (existsSync(OLD_TRIXIE_PIN)) {
    rmSync(OLD_TRIXIE_PIN);
    changed = true;
  }
  const foreign = execFileSync("dpkg", ["--print-foreign-architectures"], { encoding: "utf8" });
  // arm64 package lists let the image and module builders download arm64 kernels, libc and busybox.
  if (
    !foreign.split(/\s+/).includes("arm64") &&
    execFileSync("dpkg", ["--print-architecture"], { encoding: "utf8" }).trim() !== "arm64"
  ) {
    execFileSync("dpkg", ["--add-architecture", "arm64"]);
    changed = true;
  }
  return changed;
}

function installed(pkg) {
  const r = spawnSync("dpkg-query", ["-W", `-f=${"$"}{Status}`, pkg], { encoding: "utf8" });
  return r.status === 0 && r.stdout.includes("install ok installed");
}

/**
 * Installs `pkgs` (and SYSTEM_PACKAGES) that are missing, after a simulated run shows every package
 * comes from the host's release. `log` prints one line.
 */
export function ensureSystemPackages(log, extra = []) {
  const release = hostRelease();
  if (release.codename !== "bookworm") {
    throw new Error(
      `set-up supports Debian 12 (bookworm); this machine is ${release.pretty || "unknown"} (/etc/os-release)`,
    );
  }
  const changed = ensureSources(release);
  const missing = [...SYSTEM_PACKAGES, ...extra].filter((p) => !installed(p));
  if (missing.length === 0 && !changed) {
    log("Debian packages present");
    return;
  }
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  log("apt-get update");
  run("apt-get", ["update", "-q"], { env });
  if (missing.length === 0) return;
  const args = ["install", "-y", "-q", "--no-install-recommends", ...missing];
  const sim = spawnSync("apt-get", ["-s", ...args], { encoding: "utf8", env });
  if (sim.status !== 0) throw new Error(`apt-get -s ${args.join(" ")} exited ${sim.status}:\n${sim.stderr}`);
  const foreign = foreignInstalls(parseSimulation(sim.stdout), release);
  if (foreign.length > 0) {
    const lines = foreign.map(
      (e) => `  ${e.pkg} ${e.from ?? "(new)"} -> ${e.to} from ${e.labels.join(", ")}`,
    );
    throw new Error(
      `refusing to install: apt would take these packages from outside ${release.codename}:\n${lines.join("\n")}\n` +
        "set-up installs system-wide only packages of the host's release; check /etc/apt for other sources or pins",
    );
  }
  log(`installing ${missing.join(" ")}`);
  run("apt-get", args, { env });
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: "inherit", ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status ?? r.signal}`);
}
