import { expect, test } from "bun:test";
import {
  DM_IOCTL_SIZE,
  DM_READONLY_FLAG,
  DM_TARGET_SPEC_SIZE,
  dmIoctlStruct,
  dmRequest,
  parseDmIoctl,
  verityHealthFromStatus,
  verityRootFromTable,
  verityTarget,
} from "./dm.ts";
import { LOOP_CONFIG_SIZE, loopConfigStruct } from "./loop.ts";

const ROOT = "a".repeat(64);

test("dm ioctl request numbers match linux/dm-ioctl.h (_IOWR 0xfd, 312-byte struct)", () => {
  // DM_DEV_CREATE = 0xc138fd03, DM_TABLE_STATUS = 0xc138fd0c (as strace prints them).
  expect(dmRequest(3)).toBe(0xc138fd03);
  expect(dmRequest(9)).toBe(0xc138fd09);
  expect(dmRequest(12)).toBe(0xc138fd0c);
});

test("dm_ioctl header, target spec and params are laid out as the kernel reads them", () => {
  const t = verityTarget({
    dataDevice: "/dev/loop0",
    hashDevice: "/dev/loop1",
    dataBlocks: 10,
    hashStartBlock: 1,
    rootHash: ROOT,
    salt: "0102",
  });
  expect(t.length).toBe(80n);
  expect(t.params).toBe(`1 /dev/loop0 /dev/loop1 4096 4096 10 1 sha256 ${ROOT} 0102`);
  const buf = dmIoctlStruct({ name: "pn-web", flags: DM_READONLY_FLAG, targets: [t], size: 4096 });
  const v = new DataView(buf.buffer);
  expect([v.getUint32(0, true), v.getUint32(4, true), v.getUint32(8, true)]).toEqual([4, 0, 0]);
  expect(v.getUint32(12, true)).toBe(4096); // data_size
  expect(v.getUint32(16, true)).toBe(DM_IOCTL_SIZE); // data_start
  expect(v.getUint32(20, true)).toBe(1); // target_count
  expect(v.getUint32(28, true)).toBe(DM_READONLY_FLAG);
  expect(new TextDecoder().decode(buf.subarray(48, 54))).toBe("pn-web");
  expect(buf[54]).toBe(0);
  const spec = DM_IOCTL_SIZE;
  expect(v.getBigUint64(spec, true)).toBe(0n);
  expect(v.getBigUint64(spec + 8, true)).toBe(80n);
  expect(new TextDecoder().decode(buf.subarray(spec + 24, spec + 30))).toBe("verity");
  const params = new TextDecoder().decode(
    buf.subarray(spec + DM_TARGET_SPEC_SIZE, spec + DM_TARGET_SPEC_SIZE + t.params.length),
  );
  expect(params).toBe(t.params);
  expect(buf[spec + DM_TARGET_SPEC_SIZE + t.params.length]).toBe(0);
  // The buffer grows to fit targets when no size is given.
  expect(dmIoctlStruct({ name: "x", targets: [t] }).length).toBe(
    DM_IOCTL_SIZE + DM_TARGET_SPEC_SIZE + Math.ceil((t.params.length + 1) / 8) * 8,
  );
  expect(() => dmIoctlStruct({ name: "" })).toThrow(RangeError);
  expect(() => dmIoctlStruct({ name: "n".repeat(128) })).toThrow(RangeError);
});

test("parseDmIoctl reads what the kernel writes back: dev_t, targets with next offsets from data_start", () => {
  const buf = new Uint8Array(2048);
  const v = new DataView(buf.buffer);
  v.setUint32(16, DM_IOCTL_SIZE, true);
  v.setUint32(20, 1, true);
  v.setInt32(24, 1, true);
  // major 253, minor 3 in the kernel's huge encoding
  v.setBigUint64(40, BigInt((253 << 8) | 3), true);
  const at = DM_IOCTL_SIZE;
  v.setBigUint64(at + 8, 80n, true);
  buf.set(new TextEncoder().encode("verity"), at + 24);
  buf.set(new TextEncoder().encode("V\0"), at + DM_TARGET_SPEC_SIZE);
  const r = parseDmIoctl(buf);
  expect(r.major).toBe(253);
  expect(r.minor).toBe(3);
  expect(r.openCount).toBe(1);
  expect(r.targets).toEqual([{ sectorStart: 0n, length: 80n, status: 0, type: "verity", params: "V" }]);
  // minor 300 = 0x12c: low byte 0x2c, high bits shifted by 12
  v.setBigUint64(40, BigInt(0x2c | (253 << 8) | (0x100 << 12)), true);
  expect(parseDmIoctl(buf).minor).toBe(300);
});

test("verity table and status read-back", () => {
  expect(verityRootFromTable(`1 7:0 7:1 4096 4096 10 1 sha256 ${ROOT} -`)).toBe(ROOT);
  expect(verityRootFromTable("0 linear")).toBeUndefined();
  expect(verityHealthFromStatus("V")).toBe("V");
  expect(verityHealthFromStatus("C")).toBe("C");
  expect(verityHealthFromStatus("")).toBe("unknown");
});

test("loop_config: fd, 4096 block size, read-only + autoclear flags, backing name", () => {
  const b = loopConfigStruct({
    fd: 7,
    blockSize: 4096,
    readOnly: true,
    autoclear: true,
    fileName: "blob.erofs",
  });
  expect(b.length).toBe(LOOP_CONFIG_SIZE);
  const v = new DataView(b.buffer);
  expect(v.getUint32(0, true)).toBe(7);
  expect(v.getUint32(4, true)).toBe(4096);
  expect(v.getUint32(60, true)).toBe(1 | 4);
  expect(new TextDecoder().decode(b.subarray(64, 74))).toBe("blob.erofs");
  const long = loopConfigStruct({
    fd: 1,
    blockSize: 512,
    readOnly: false,
    autoclear: false,
    fileName: "x".repeat(100),
  });
  expect(long[64 + 63]).toBe(0);
  expect(new DataView(long.buffer).getUint32(60, true)).toBe(0);
});
