/**
 * Network boot over HTTP: `/boot/ipxe` (the script, `?mac=` optional), `/boot/<arch>/kernel` and
 * `/boot/<arch>/initramfs` from the image builder's output (the QEMU provider's image dir,
 * POWERNODE_IMAGE_DIR). A missing image is a 404 naming the build command, never a 500.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Elysia } from "elysia";
import type { Deps } from "../deps.ts";
import { defaultImageDir } from "../providers/qemu/vm.ts";
import { ipxeScript } from "./ipxe-script.ts";

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const FILES = { kernel: "kernel", initramfs: "initramfs.cpio.zst" } as const;

const text = (status: number, body: string) =>
  new Response(`${body}\n`, { status, headers: { "content-type": "text/plain; charset=utf-8" } });

/** The netboot plugin; `imageDir` for tests (default: the QEMU provider's). */
export function netbootRoutes(deps: Pick<Deps, "config" | "ca" | "log">, imageDir = defaultImageDir()) {
  return new Elysia({ name: "netboot" })
    .get("/boot/ipxe", ({ query }) => {
      const raw = typeof query.mac === "string" ? query.mac.toLowerCase() : "";
      if (raw !== "" && !MAC_RE.test(raw))
        return text(400, `mac: "${raw.slice(0, 32)}" is not a MAC address`);
      deps.log.info("netboot: iPXE script served", { mac: raw || "unknown" });
      const script = ipxeScript({
        bootBaseUrl: deps.config.nodeHttpUrl,
        claimUrl: deps.config.nodeUrl,
        caPem: deps.ca.certPem,
        ...(raw ? { mac: raw } : {}),
      });
      return new Response(script, { headers: { "content-type": "text/plain; charset=utf-8" } });
    })
    .get("/boot/:arch/:file", ({ params }) => {
      const { arch, file } = params;
      if (arch !== "amd64" && arch !== "arm64")
        return text(404, `arch: "${arch.slice(0, 16)}" is not amd64 or arm64`);
      if (file !== "kernel" && file !== "initramfs")
        return text(404, `file: "${file.slice(0, 32)}" is not kernel or initramfs`);
      const path = join(imageDir, arch, "kernel-initrd", FILES[file]);
      if (!existsSync(path))
        return text(404, `no ${file} for ${arch}: run bun initramfs/build.ts --arch ${arch}`);
      deps.log.info("netboot: boot file served", { arch, file });
      return new Response(Bun.file(path), { headers: { "content-type": "application/octet-stream" } });
    });
}
