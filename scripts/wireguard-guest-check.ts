/**
 * The agent's WireGuard OS calls on a real node kernel (not part of `bun test`: the host has no
 * wireguard module, and this builds an image and boots it, a few minutes under TCG):
 *
 *   bun scripts/wireguard-guest-check.ts [--arch amd64|arm64] [--out <dir>] [--level <zstd>] [--timeout <s>]
 *
 * Bundles `scripts/wireguard-guest-probe.ts`, builds the node image with a test /init that loads
 * every module of `powernode.load`, writes the bundle to /tmp and runs it with the agent binary's own
 * Bun (`BUN_BE_BUN=1 /bin/powernode-agent`), boots it under QEMU and prints the probe's `wg-check:`
 * lines. Exit 0 when the probe reports no failure.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { launchVm } from "../hub/src/providers/qemu/vm.ts";
import { buildImage } from "../initramfs/build-image.ts";
import type { Arch } from "../initramfs/versions.ts";

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    arch: { type: "string", default: "amd64" },
    out: { type: "string" },
    level: { type: "string", default: "3" },
    timeout: { type: "string", default: "300" },
  },
  strict: true,
});
const arch = values.arch as Arch;
if (arch !== "amd64" && arch !== "arm64") throw new Error(`--arch ${values.arch}: amd64 or arm64`);
const timeoutMs = Number(values.timeout) * 1000;
const work = mkdtempSync(join(tmpdir(), `wg-guest-check-${arch}-`));
const out = values.out ?? join(work, "image");

const bundle = await Bun.build({
  entrypoints: [join(import.meta.dir, "wireguard-guest-probe.ts")],
  target: "bun",
});
if (!bundle.success) throw new Error(`bundling the probe: ${bundle.logs.join("\n")}`);
const probe = await (bundle.outputs[0] as Blob).text();
const EOF = "PN_WG_PROBE_EOF";
if (probe.split("\n").includes(EOF)) throw new Error(`the probe bundle contains the heredoc end ${EOF}`);

const init = join(work, "init");
writeFileSync(
  init,
  `#!/bin/sh
export PATH=/bin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
dmesg -n 1
M=/lib/modules/$(uname -r)
n=0
while read -r l; do
  case "$l" in ''|'#'*) ;; *) insmod "$M/$l" && n=$((n+1)) || echo "wg-check: FAIL insmod $l" ;; esac
done < "$M/powernode.load"
echo "wg-check: loaded $n modules"
ip link set lo up
cat > /tmp/probe.js <<'${EOF}'
${probe}
${EOF}
BUN_BE_BUN=1 /bin/powernode-agent /tmp/probe.js
echo "wg-check: probe exited $?"
poweroff -f
`,
  { mode: 0o755 },
);

process.stderr.write(`building the ${arch} image with the probe /init into ${out}\n`);
await buildImage({ arch, outDir: out, init, compressionLevel: Number(values.level) });
const serialLog = join(work, "serial.log");
const vm = await launchVm({
  arch,
  name: `wg-guest-check-${arch}`,
  stateDir: join(work, "vm"),
  serialLog,
  imageDir: out,
});
let failed = true;
try {
  await vm.waitForSerial(/wg-check: probe exited \d+/, timeoutMs);
  const lines = readFileSync(serialLog, "utf8")
    .split(/\r?\n/)
    .filter((l) => l.includes("wg-check: "))
    .map((l) => l.slice(l.indexOf("wg-check: ")));
  for (const l of lines) process.stdout.write(`${l}\n`);
  failed =
    !lines.some((l) => /^wg-check: done \d+ ok 0 failed$/.test(l)) || lines.some((l) => l.includes(" FAIL "));
} finally {
  await vm.stop(0);
  if (!failed && !values.out) rmSync(work, { recursive: true, force: true });
  else process.stderr.write(`kept ${work} (serial log: ${serialLog})\n`);
}
process.exit(failed ? 1 : 0);
