/**
 * Manual boot check of the built image (not part of `bun test`; the smokes own real boots):
 *
 *   bun hub/src/providers/qemu/boot-check.ts --arch amd64|arm64 [--expect <regex>] [--image-dir <dir>]
 *       [--initrd auto|zst|raw] [--timeout <s>]
 *
 * Boots the image with dummy fw-cfg identity, prints seconds from QEMU start to the kernel banner,
 * to `Run /init`, and to the first line matching --expect (default: any `powernode-agent: ` line),
 * then stops the VM and removes its state dir.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { VmArch } from "./argv.ts";
import { launchVm } from "./vm.ts";

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    arch: { type: "string", default: "amd64" },
    expect: { type: "string", default: "powernode-agent: " },
    "image-dir": { type: "string" },
    initrd: { type: "string", default: "auto" },
    timeout: { type: "string", default: "180" },
  },
  strict: true,
});
const arch = values.arch as VmArch;
if (arch !== "amd64" && arch !== "arm64") throw new Error(`--arch ${values.arch}: amd64 or arm64`);
const initrdFormat = values.initrd as "auto" | "zst" | "raw";
const timeoutMs = Number(values.timeout) * 1000;
const stateDir = mkdtempSync(join(tmpdir(), `boot-check-${arch}-`));
const t0 = performance.now();
const at = () => ((performance.now() - t0) / 1000).toFixed(2);
const vm = await launchVm({
  arch,
  name: `boot-check-${arch}`,
  stateDir,
  serialLog: join(stateDir, "serial.log"),
  imageDir: values["image-dir"],
  initrdFormat,
  fwCfg: {
    instance_uuid: "00000000-0000-4000-8000-000000000000",
    bootstrap_token: "boot-check",
    platform_url: "https://10.0.2.2:8443",
    ca_pem: "",
  },
});
const marks: string[] = [`qmp ${at()}`];
let failed = false;
try {
  for (const [name, re] of [
    ["kernel", /Linux version/],
    ["init", /Run \/init/],
    ["expect", new RegExp(values.expect)],
  ] as const) {
    await vm.waitForSerial(re, timeoutMs);
    marks.push(`${name} ${at()}`);
  }
} catch (e) {
  failed = true;
  process.stderr.write(`${(e as Error).message}\n`);
} finally {
  await vm.stop(0);
  rmSync(stateDir, { recursive: true, force: true });
}
process.stdout.write(
  `${arch} ${vm.accel} ${vm.initrd.split("/").pop()}: ${marks.join("  ")} (seconds from QEMU start)\n`,
);
process.exit(failed ? 1 : 0);
