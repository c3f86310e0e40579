/**
 * fs-verity on the node's own filesystems (ext4 made with `-O verity`): FS_IOC_ENABLE_VERITY and
 * FS_IOC_MEASURE_VERITY (linux/fsverity.h) through ioctl. The kernel's measured digest is the same
 * fs-verity sha256 digest `@powernode/composefs` computes in userspace for module images.
 */
import { closeSync, openSync } from "node:fs";
import { errnoName, ioctl, LibcError } from "./libc.ts";

const ENODATA = 61;

/** _IOW('f', 133, struct fsverity_enable_arg): the struct is 128 bytes. */
export const FS_IOC_ENABLE_VERITY = 0x40806685;
/** _IOWR('f', 134, struct fsverity_digest): the header is 4 bytes, the digest follows. */
export const FS_IOC_MEASURE_VERITY = 0xc0046686;
const FS_VERITY_HASH_ALG_SHA256 = 1;
const SHA256_SIZE = 32;

/** struct fsverity_enable_arg for sha256, 4 KiB blocks, no salt, no signature. */
export function fsverityEnableArg(): Uint8Array {
  const buf = new Uint8Array(128);
  const v = new DataView(buf.buffer);
  v.setUint32(0, 1, true); // version
  v.setUint32(4, FS_VERITY_HASH_ALG_SHA256, true);
  v.setUint32(8, 4096, true); // block_size
  // salt_size, salt_ptr, sig_size, sig_ptr and the reserved words stay zero.
  return buf;
}

/** Parses struct fsverity_digest as filled by the kernel; returns the hex digest. */
export function parseFsverityDigest(buf: Uint8Array): { algorithm: number; hex: string } {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const algorithm = v.getUint16(0, true);
  const size = v.getUint16(2, true);
  if (size > buf.length - 4) throw new Error(`fsverity_digest: size ${size} larger than the buffer`);
  return { algorithm, hex: Buffer.from(buf.subarray(4, 4 + size)).toString("hex") };
}

export type VerityMeasure =
  | { ok: true; digest: string; enabled: boolean }
  | { ok: false; errno: string; step: "open" | "enable" | "measure" };

/**
 * Measures a file's fs-verity digest, enabling fs-verity first when the file has none yet (ENODATA).
 * Enabling makes the file read-only for good, so only call it on files meant for that.
 */
export function enableAndMeasureVerity(path: string): VerityMeasure {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (err) {
    return { ok: false, errno: String((err as { code?: string }).code ?? err), step: "open" };
  }
  const measure = () => {
    const buf = new Uint8Array(4 + SHA256_SIZE);
    new DataView(buf.buffer).setUint16(2, SHA256_SIZE, true); // digest_size: room the kernel may use
    ioctl(fd, FS_IOC_MEASURE_VERITY, buf, "FS_IOC_MEASURE_VERITY");
    return parseFsverityDigest(buf).hex;
  };
  try {
    try {
      return { ok: true, digest: measure(), enabled: false };
    } catch (err) {
      // ENODATA: no fs-verity on the file yet; anything else is a real failure.
      if (!(err instanceof LibcError) || err.errno !== ENODATA) throw err;
    }
    try {
      ioctl(fd, FS_IOC_ENABLE_VERITY, fsverityEnableArg(), "FS_IOC_ENABLE_VERITY");
    } catch (err) {
      return { ok: false, errno: errnoOf(err), step: "enable" };
    }
    return { ok: true, digest: measure(), enabled: true };
  } catch (err) {
    return { ok: false, errno: errnoOf(err), step: "measure" };
  } finally {
    closeSync(fd);
  }
}

function errnoOf(err: unknown): string {
  return err instanceof LibcError ? errnoName(err.errno) : String(err);
}
