/**
 * CLI: `bun initramfs/build.ts --arch amd64|arm64 [--force] [--init <file>] [--out <dir>]`.
 * Prints step lines with timings and the image sizes; reuses the image when inputs are unchanged.
 */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { buildImage } from "./build-image.ts";
import { ARCHES, type Arch } from "./versions.ts";

function usage(msg: string): never {
  process.stderr.write(
    `${msg}\nusage: bun initramfs/build.ts --arch amd64|arm64|all [--force] [--init <file>] [--out <dir>] [--level <zstd level>] [--agent <entry.ts>]\n`,
  );
  process.exit(2);
}

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    arch: { type: "string" },
    force: { type: "boolean", default: false },
    init: { type: "string" },
    out: { type: "string" },
    level: { type: "string" },
    agent: { type: "string" },
    help: { type: "boolean", short: "h" },
  },
  strict: true,
});
if (values.help)
  usage("Builds <out>/<arch>/kernel-initrd/{kernel,initramfs.cpio.zst,SHA256SUMS,build-manifest.json}.");
const archArg = values.arch ?? usage("missing --arch");
const arches: Arch[] =
  archArg === "all"
    ? [...ARCHES]
    : ARCHES.includes(archArg as Arch)
      ? [archArg as Arch]
      : usage(`bad --arch ${archArg}`);

try {
  for (const arch of arches) {
    const compressionLevel = values.level === undefined ? undefined : Number(values.level);
    if (
      compressionLevel !== undefined &&
      !(Number.isInteger(compressionLevel) && compressionLevel >= 1 && compressionLevel <= 19)
    ) {
      usage(`bad --level ${values.level}: 1..19`);
    }
    const r = await buildImage({
      arch,
      force: values.force,
      init: values.init,
      outDir: values.out,
      compressionLevel,
      agentEntry: values.agent === undefined ? undefined : resolve(values.agent),
    });
    process.stdout.write(`${r.reused ? "reused" : "built"} ${r.kernelPath} ${r.initramfsPath}\n`);
  }
} catch (err) {
  let e: unknown = err;
  const parts: string[] = [];
  while (e instanceof Error) {
    parts.push(e.message);
    e = e.cause;
  }
  process.stderr.write(`initramfs build failed: ${parts.join(": ")}\n`);
  process.exit(1);
}
