/**
 * Builds the images of an OS module from a directory: a composefs metadata image, the content-addressed
 * object store, that store packed as a reproducible EROFS "blob" image (mkfs.erofs), and a dm-verity hash
 * tree over the blob. On a node, the blob is opened with dm-verity (root hash from the hub), mounted as
 * EROFS, and used as the data-only layer: `lowerdir=<metadata mount>::<blob mount>`.
 */
import { mkdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createExec, type Exec } from "@powernode/exec";
import { formatVerity } from "./dm-verity.ts";
import { writeImage } from "./erofs-writer.ts";
import { createObjectStore } from "./object-store.ts";
import { treeFromDirectory } from "./tree-from-directory.ts";

/** Fixed filesystem UUID of blob images, so that the same objects always give the same bytes. */
export const BLOB_UUID = "6f9c3e2a-5b1d-4c7e-9a0f-2d8b4e6c1a3f";
const VERITY_UUID = Buffer.from("3a1c6e4b8d2f0a9e7c5b1d3f2e4a6c8b", "hex");

/** Options for {@link buildModuleImages}. */
export interface BuildModuleOptions {
  /** dm-verity salt (at most 256 bytes). Default: the metadata image digest, so it is reproducible. */
  salt?: Uint8Array;
  /** Files up to this size are inlined in the metadata image (default 64). */
  inlineMax?: number;
  exec?: Exec;
}

/** Paths, digests and sizes of a built module. */
export interface ModuleImages {
  /** composefs metadata image (`<outDir>/metadata.cfs`). */
  metadataImage: string;
  /** fs-verity sha256 digest of the metadata image, hex. */
  metadataDigest: string;
  /** Object store directory (`<outDir>/objects`), the blob image's source. */
  objectsDir: string;
  /** EROFS image of the object store (`<outDir>/blob.erofs`); its root holds `ab/cdef…`. */
  blobImage: string;
  /** dm-verity hash tree of the blob, with superblock (`<outDir>/blob.verity`). */
  verityHashFile: string;
  /** dm-verity root hash, hex. */
  verityRootHash: string;
  /** dm-verity salt used, hex (also stored in the hash file's superblock). */
  veritySalt: string;
  sizes: { metadata: number; blob: number; verity: number; objects: number };
}

/**
 * Builds `metadata.cfs`, `objects/`, `blob.erofs` and `blob.verity` in `outDir` (created; earlier outputs
 * there, including `objects/`, are replaced so the result depends only on `srcDir`).
 * @example
 * const m = await buildModuleImages("/work/rootfs", "/work/out");
 * // mount blob via dm-verity with m.verityRootHash, mount metadata, overlay lowerdir=meta::blob
 */
export async function buildModuleImages(
  srcDir: string,
  outDir: string,
  opts: BuildModuleOptions = {},
): Promise<ModuleImages> {
  const exec = opts.exec ?? createExec();
  mkdirSync(outDir, { recursive: true });
  const objectsDir = join(outDir, "objects");
  // Start from an empty store: leftovers from another build would end up in the blob and change its bytes.
  rmSync(objectsDir, { recursive: true, force: true });
  const store = createObjectStore(objectsDir);
  const tree = treeFromDirectory(srcDir, {
    store,
    ...(opts.inlineMax !== undefined ? { inlineMax: opts.inlineMax } : {}),
  });
  const { image, digest } = writeImage(tree);
  const metadataImage = join(outDir, "metadata.cfs");
  writeFileSync(metadataImage, image);
  const metadataDigest = Buffer.from(digest).toString("hex");

  const blobImage = join(outDir, "blob.erofs");
  rmSync(blobImage, { force: true });
  await exec.run(
    "mkfs.erofs",
    ["--quiet", "-T0", `-U${BLOB_UUID}`, "--all-root", "-b4096", blobImage, objectsDir],
    {
      timeoutMs: 600_000,
    },
  );
  const blobSize = statSync(blobImage).size;
  if (blobSize % 4096 !== 0) throw new Error(`mkfs.erofs produced ${blobSize} bytes, not a multiple of 4096`);

  const salt = opts.salt ?? digest;
  const verityHashFile = join(outDir, "blob.verity");
  const v = formatVerity(blobImage, verityHashFile, { salt, uuid: VERITY_UUID, superblock: true });
  return {
    metadataImage,
    metadataDigest,
    objectsDir,
    blobImage,
    verityHashFile,
    verityRootHash: Buffer.from(v.rootHash).toString("hex"),
    veritySalt: Buffer.from(salt).toString("hex"),
    sizes: { metadata: image.length, blob: blobSize, verity: v.hashSize, objects: store.count },
  };
}
