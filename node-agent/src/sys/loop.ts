/**
 * Loop devices through ioctls (no losetup in the image): LOOP_CTL_GET_FREE on /dev/loop-control, then
 * LOOP_CONFIGURE on /dev/loopN with the backing file's fd (read-only, 4096-byte blocks, autoclear).
 * The struct builder is pure so tests check its bytes.
 */
import { closeSync, existsSync, openSync } from "node:fs";
import { ioctl, LibcError } from "./libc.ts";

export const LOOP_CTL_GET_FREE = 0x4c82;
export const LOOP_CONFIGURE = 0x4c0a;
export const LOOP_CLR_FD = 0x4c01;
export const LO_FLAGS_READ_ONLY = 1;
export const LO_FLAGS_AUTOCLEAR = 4;
export const LO_FLAGS_DIRECT_IO = 16;

/** sizeof(struct loop_config): fd u32, block_size u32, struct loop_info64 (232), __reserved[8] u64. */
export const LOOP_CONFIG_SIZE = 304;
/** Offsets inside struct loop_config. */
const OFF_FLAGS = 8 + 52;
const OFF_FILE_NAME = 8 + 56;

export interface LoopConfig {
  /** The backing file's open fd. */
  fd: number;
  blockSize: number;
  readOnly: boolean;
  autoclear: boolean;
  /** Shown in /sys/block/loopN/loop/backing_file (truncated to 63 bytes). */
  fileName?: string;
}

/** struct loop_config for LOOP_CONFIGURE. */
export function loopConfigStruct(c: LoopConfig): Uint8Array {
  const buf = new Uint8Array(LOOP_CONFIG_SIZE);
  const v = new DataView(buf.buffer);
  v.setUint32(0, c.fd, true);
  v.setUint32(4, c.blockSize, true);
  v.setUint32(
    OFF_FLAGS,
    (c.readOnly ? LO_FLAGS_READ_ONLY : 0) | (c.autoclear ? LO_FLAGS_AUTOCLEAR : 0),
    true,
  );
  if (c.fileName) buf.set(new TextEncoder().encode(c.fileName).subarray(0, 63), OFF_FILE_NAME);
  return buf;
}

/** An attached loop device; `close()` drops the agent's own reference (with autoclear the device is freed
 * when its last user, a mount or dm table, lets go). */
export interface LoopDevice {
  device: string;
  close(): void;
}

/**
 * Attaches the open file `fd` to a free loop device, read-only, 4096-byte blocks, autoclear. Keep the
 * returned device open (do not `close()`) until something else holds it, or autoclear frees it at once.
 */
export function attachLoop(fd: number, fileName: string, devDir = "/dev"): LoopDevice {
  const ctl = openSync(`${devDir}/loop-control`, "r+");
  let n: number;
  try {
    n = ioctl(ctl, LOOP_CTL_GET_FREE, null, "LOOP_CTL_GET_FREE");
  } finally {
    closeSync(ctl);
  }
  const device = `${devDir}/loop${n}`;
  // devtmpfs creates the node when the kernel adds the device; it can trail the ioctl by a moment.
  for (let i = 0; i < 200 && !existsSync(device); i++) Bun.sleepSync(5);
  const loopFd = openSync(device, "r");
  try {
    ioctl(
      loopFd,
      LOOP_CONFIGURE,
      loopConfigStruct({ fd, blockSize: 4096, readOnly: true, autoclear: true, fileName }),
      `LOOP_CONFIGURE ${device} <- ${fileName}`,
    );
  } catch (err) {
    closeSync(loopFd);
    throw err;
  }
  let open = true;
  return {
    device,
    close() {
      if (open) closeSync(loopFd);
      open = false;
    },
  };
}

/** Detaches a loop device (LOOP_CLR_FD); ENXIO (already free) is not an error. */
export function detachLoop(device: string): void {
  let fd: number;
  try {
    fd = openSync(device, "r");
  } catch {
    return;
  }
  try {
    ioctl(fd, LOOP_CLR_FD, null, `LOOP_CLR_FD ${device}`);
  } catch (err) {
    if (!(err instanceof LibcError && err.errno === 6)) throw err;
  } finally {
    closeSync(fd);
  }
}
