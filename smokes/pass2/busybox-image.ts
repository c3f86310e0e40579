/**
 * A container image made here and published to the hub's own registry: one layer with Debian's static
 * busybox (`/bin/busybox`, `/bin/sh`), an OCI image config for the node's arch. dockerd on the node pulls
 * it from the hub's node listener (mTLS with the node's certificate).
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { copyFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createExec } from "@powernode/exec";
import { pushArtifact } from "@powernode/oci";
import { debRoot } from "../../scripts/lib/deb-root.ts";

export const IMAGE_REPO = "images/busybox";

const sha256 = (b: Uint8Array) => `sha256:${new Bun.CryptoHasher("sha256").update(b).digest("hex")}`;

/** Builds and pushes the image; returns its tag and manifest digest. */
export async function publishBusyboxImage(opts: {
  arch: "amd64" | "arm64";
  registryUrl: string;
  token: string;
  cacheDir: string;
}): Promise<{ tag: string; digest: string }> {
  const root = await debRoot("busybox-static", opts.arch, opts.cacheDir);
  const stage = mkdtempSync(join(tmpdir(), "pn-busybox-image-"));
  try {
    mkdirSync(join(stage, "bin"));
    await copyFile(join(root, "bin/busybox"), join(stage, "bin/busybox"));
    symlinkSync("busybox", join(stage, "bin/sh"));
    const tar = await createExec().runBinary(
      "tar",
      [
        "-C",
        stage,
        "--sort=name",
        "--mtime=@0",
        "--owner=0",
        "--group=0",
        "--numeric-owner",
        "-cf",
        "-",
        "bin",
      ],
      { timeoutMs: 60_000 },
    );
    const layer = Bun.gzipSync(new Uint8Array(tar.stdoutBytes));
    const config = {
      architecture: opts.arch,
      os: "linux",
      config: { Entrypoint: ["/bin/busybox"], Cmd: ["echo", "powernode"] },
      rootfs: { type: "layers", diff_ids: [sha256(tar.stdoutBytes)] },
    };
    const tag = `1-${opts.arch}`;
    const digest = await pushArtifact(
      opts.registryUrl,
      IMAGE_REPO,
      tag,
      {
        config: {
          mediaType: "application/vnd.oci.image.config.v1+json",
          bytes: new TextEncoder().encode(JSON.stringify(config)),
        },
        layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", bytes: layer }],
      },
      { token: opts.token },
    );
    return { tag, digest };
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}
