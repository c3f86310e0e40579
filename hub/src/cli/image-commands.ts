/**
 * `pnctl image build --platform x86-efi|arm64-efi|rpi4|rpi5 --out FILE`: a bootable disk image of the
 * node image (hub/src/images/efi-image.ts for x86-efi, arm64-efi-image.ts for arm64 UEFI with Debian's
 * arm64 systemd-boot, rpi-image.ts for the Raspberry Pi 4/5; the Pi's DTBs and GPU firmware are fetched
 * from Debian by rpi-boot-files.ts). `--claim-url` puts the node in claim mode with the hub's CA
 * (fetched from the hub); `--cmdline` adds kernel arguments; `--identity-file` copies an `identity.cfg`
 * onto the boot partition.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createExec } from "@powernode/exec";
import { FleetService } from "@powernode/proto";
import { buildArm64EfiImage, fetchSystemdBootAa64 } from "../images/arm64-efi-image.ts";
import { buildEfiImage } from "../images/efi-image.ts";
import { fetchRpiBootFiles, readManifestKernel } from "../images/rpi-boot-files.ts";
import { buildRpiImage, RPI_CONSOLE, type RpiPlatform } from "../images/rpi-image.ts";
import { defaultImageDir } from "../providers/qemu/vm.ts";
import { flag } from "./args.ts";
import { type CommandGroup, UsageError, unknownVerb } from "./shared.ts";

const PLATFORMS = ["x86-efi", "arm64-efi", "rpi4", "rpi5"] as const;

export const imageCommands: CommandGroup = {
  name: "image",
  usage: `  image build --platform x86-efi|arm64-efi|rpi4|rpi5 --out FILE [--claim-url https://HUB:8443] [--cmdline ARGS]
              [--identity-file FILE] [--image-dir DIR]
                                  (x86-efi: a GPT raw image, FAT ESP with one UKI of the node image;
                                   arm64-efi: the same GPT + ESP with systemd-boot and one entry;
                                   rpi4|rpi5: an MBR raw image, FAT boot partition in the Pi firmware's
                                   layout with the arm64 node image; reproducible)`,
  async run(ctx) {
    if (ctx.verb !== "build") return unknownVerb(ctx, imageCommands);
    const platform = flag(ctx.args, "platform") ?? "";
    if (!(PLATFORMS as readonly string[]).includes(platform))
      throw new UsageError(`--platform: "${platform}" is not one of ${PLATFORMS.join(", ")}`);
    const arch = platform === "x86-efi" ? "amd64" : "arm64";
    const out = flag(ctx.args, "out");
    if (!out) throw new UsageError("--out: required (the image file to write)");
    const dir = join(flag(ctx.args, "image-dir") ?? defaultImageDir(), arch, "kernel-initrd");
    const kernel = join(dir, "kernel");
    const initrd = join(dir, "initramfs.cpio.zst");
    for (const f of [kernel, initrd])
      if (!existsSync(f)) throw new UsageError(`${f} is missing: run bun initramfs/build.ts --arch ${arch}`);
    const rpi = platform === "rpi4" || platform === "rpi5" ? (platform as RpiPlatform) : undefined;
    const console = rpi ? RPI_CONSOLE[rpi] : arch === "arm64" ? "ttyAMA0,115200" : "ttyS0,115200";
    const args = [`console=${console}`, "panic=-1"];
    const claimUrl = flag(ctx.args, "claim-url");
    if (claimUrl) {
      if (!/^https:\/\/[^/\s]+$/.test(claimUrl))
        throw new UsageError(`--claim-url: "${claimUrl}" must be https://host:port`);
      const { caPem } = await ctx.client(FleetService).getCaCertificate({});
      args.push(
        `powernode.claim_url=${claimUrl}`,
        `powernode.ca_pem=${Buffer.from(caPem).toString("base64")}`,
      );
    }
    const extra = flag(ctx.args, "cmdline");
    if (extra) args.push(extra);
    const identityFile = flag(ctx.args, "identity-file");
    const common = {
      kernel,
      initrd,
      cmdline: args.join(" "),
      out,
      ...(identityFile ? { extraFiles: { "identity.cfg": readFileSync(identityFile, "utf8") } } : {}),
    };
    let r: { sha256: string; sizeBytes: number };
    if (rpi) {
      const exec = createExec({ defaultTimeoutMs: 600_000 });
      const boot = await fetchRpiBootFiles(exec, readManifestKernel(dir));
      r = await buildRpiImage({ ...common, platform: rpi, dtbs: boot.dtbs, firmware: boot.firmware, exec });
    } else if (platform === "arm64-efi") {
      const exec = createExec({ defaultTimeoutMs: 600_000 });
      r = await buildArm64EfiImage({ ...common, bootloader: await fetchSystemdBootAa64(exec), exec });
    } else {
      r = await buildEfiImage(common);
    }
    ctx.print({ platform, out, sha256: r.sha256, sizeBytes: r.sizeBytes }, () => [
      `built ${platform} image ${out}: ${(r.sizeBytes / 1024 / 1024).toFixed(0)} MiB, sha256 ${r.sha256}`,
    ]);
    return 0;
  },
};
