import { expect, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import { DebugSpecSchema } from "@powernode/proto";
import { parseDebugHooks } from "../controllers/modules/debug-hooks.ts";
import {
  FS_IOC_ENABLE_VERITY,
  FS_IOC_MEASURE_VERITY,
  fsverityEnableArg,
  parseFsverityDigest,
} from "./fs-verity.ts";

// _IOC(dir, type, nr, size) = dir << 30 | size << 16 | type << 8 | nr (asm-generic/ioctl.h).
const ioc = (dir: number, nr: number, size: number) => ((dir << 30) | (size << 16) | (0x66 << 8) | nr) >>> 0;

test("ioctl numbers follow linux/fsverity.h", () => {
  expect(FS_IOC_ENABLE_VERITY).toBe(ioc(1, 133, 128));
  expect(FS_IOC_MEASURE_VERITY).toBe(ioc(3, 134, 4));
});

test("fsverity_enable_arg: version 1, sha256, 4096-byte blocks, no salt or signature", () => {
  const a = fsverityEnableArg();
  const v = new DataView(a.buffer);
  expect([a.length, v.getUint32(0, true), v.getUint32(4, true), v.getUint32(8, true)]).toEqual([
    128, 1, 1, 4096,
  ]);
  expect(a.subarray(12).every((b) => b === 0)).toBe(true);
});

test("fsverity_digest is read as algorithm, size and hex digest; a size past the buffer is an error", () => {
  const buf = new Uint8Array(36);
  const v = new DataView(buf.buffer);
  v.setUint16(0, 1, true);
  v.setUint16(2, 32, true);
  buf.fill(0xab, 4);
  expect(parseFsverityDigest(buf)).toEqual({ algorithm: 1, hex: "ab".repeat(32) });
  v.setUint16(2, 64, true);
  expect(() => parseFsverityDigest(buf)).toThrow("larger than the buffer");
});

test("the fsverity debug hook only takes paths under /persist", () => {
  const h = parseDebugHooks(
    create(DebugSpecSchema, {
      fsverity: [{ path: "/persist/x.bin" }, { path: "/etc/passwd" }, { path: "/persist/../x" }],
    }),
  );
  expect(h.fsverity).toEqual([{ path: "/persist/x.bin" }]);
  expect(h.problems).toHaveLength(2);
});
