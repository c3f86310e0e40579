/**
 * `pnctl image build --platform x86-efi --out FILE`: a bootable disk image of the node image
 * (hub/src/images/efi-image.ts). `--claim-url` puts the node in claim mode with the hub's CA (fetched
 * from the hub); `--cmdline` adds kernel arguments; `--identity-file` copies an `identity.cfg` onto the
 * boot partition. Only x86-efi is built so far; arm64-efi, rpi4 and rpi5 are refused saying so.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { FleetService } from "@powernode/proto";
import { buildEfiImage } from "../images/efi-image.ts";
import { defaultImageDir } from "../providers/qemu/vm.ts";
import { flag } from "./args.ts";
import { type CommandGroup, UsageError, unknownVerb } from "./shared.ts";

const PLATFORMS = ["x86-efi", "arm64-efi", "rpi4", "rpi5"] as const;

export const imageCommands: CommandGroup = {
  name: "image",
  usage: `  image build --platform x86-efi --out FILE [--claim-url https://HUB:8443] [--cmdline ARGS]
              [--identity-file FILE] [--image-dir DIR]
                                  (a GPT raw image: FAT ESP with one UKI of the node image; reproducible)`,
  async run(ctx) {
    if (ctx.verb !== "build") return unknownVerb(ctx, imageCommands);
    const platform = flag(ctx.args, "platform") ?? "";
    if (!(PLATFORMS as readonly string[]).includes(platform))
      throw new UsageError(`--platform: "${platform}" is not one of ${PLATFORMS.join(", ")}`);
    if (platform !== "x86-efi")
      throw new UsageError(`--platform ${platform}: not built yet (only x86-efi; see docs/claims.md)`);
    const out = flag(ctx.args, "out");
    if (!out) throw new UsageError("--out: required (the image file to write)");
    const dir = join(flag(ctx.args, "image-dir") ?? defaultImageDir(), "amd64", "kernel-initrd");
    const kernel = join(dir, "kernel");
    const initrd = join(dir, "initramfs.cpio.zst");
    for (const f of [kernel, initrd])
      if (!existsSync(f)) throw new UsageError(`${f} is missing: run bun initramfs/build.ts --arch amd64`);
    const args = ["console=ttyS0,115200", "panic=-1"];
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
    const r = await buildEfiImage({
      kernel,
      initrd,
      cmdline: args.join(" "),
      out,
      ...(identityFile ? { extraFiles: { "identity.cfg": readFileSync(identityFile, "utf8") } } : {}),
    });
    ctx.print({ platform, out, sha256: r.sha256, sizeBytes: r.sizeBytes }, () => [
      `built ${platform} image ${out}: ${(r.sizeBytes / 1024 / 1024).toFixed(0)} MiB, sha256 ${r.sha256}`,
    ]);
    return 0;
  },
};
