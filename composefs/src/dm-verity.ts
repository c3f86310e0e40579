/**
 * dm-verity hash trees (format 1 as written by `veritysetup format`: sha256, 4096-byte data and hash blocks,
 * salt prepended unpadded), with or without the 512-byte superblock. The writer streams the data file once and
 * holds the tree in memory (32 bytes per data block); the verifier names the first bad block.
 * Layout reference: cryptsetup docs/on-disk-format and linux Documentation/admin-guide/device-mapper/verity.rst.
 */
import { closeSync, fstatSync, openSync, readSync, writeSync } from "node:fs";
import { ComposefsFormatError } from "./errors.ts";

const BLOCK = 4096;
const HASH = 32;
const PER_BLOCK = BLOCK / HASH;

/** Parameters of a dm-verity hash tree. */
export interface VerityParams {
  /** Salt bytes (veritysetup's default is 32 random bytes; pass a fixed one for reproducible output). */
  salt: Uint8Array;
  /** 16-byte UUID stored in the superblock (ignored without one). */
  uuid?: Uint8Array;
  /** Write the 512-byte superblock padded to one hash block first (veritysetup's default). */
  superblock: boolean;
}

/** Result of {@link formatVerity}. */
export interface VerityFormat {
  rootHash: Uint8Array;
  dataBlocks: number;
  /** Size of the hash file in bytes. */
  hashSize: number;
}

/** Number of hash blocks per level, bottom level first (empty for a single data block). */
export function verityLevels(dataBlocks: number): number[] {
  const levels: number[] = [];
  let n = dataBlocks;
  while (n > 1) {
    n = Math.ceil(n / PER_BLOCK);
    levels.push(n);
  }
  return levels;
}

function makeHasher(salt: Uint8Array): (data: Uint8Array, out: Uint8Array) => void {
  if (salt.length === 0) return (data, out) => void Bun.SHA256.hash(data, out);
  // salt || block in one scratch buffer: one native call per block, no per-block allocation.
  const scratch = new Uint8Array(salt.length + BLOCK);
  scratch.set(salt);
  const body = scratch.subarray(salt.length);
  return (data, out) => {
    body.set(data);
    Bun.SHA256.hash(scratch, out);
  };
}

/** Encodes the 512-byte veritysetup superblock, padded to one hash block. */
export function encodeVeritySuperblock(dataBlocks: number, p: VerityParams): Uint8Array {
  if (p.salt.length > 256) throw new RangeError("dm-verity salt is longer than 256 bytes");
  const sb = new Uint8Array(BLOCK);
  const dv = new DataView(sb.buffer);
  sb.set(new TextEncoder().encode("verity"), 0);
  dv.setUint32(8, 1, true);
  dv.setUint32(12, 1, true);
  if (p.uuid) sb.set(p.uuid.subarray(0, 16), 16);
  sb.set(new TextEncoder().encode("sha256"), 32);
  dv.setUint32(64, BLOCK, true);
  dv.setUint32(68, BLOCK, true);
  dv.setBigUint64(72, BigInt(dataBlocks), true);
  dv.setUint16(80, p.salt.length, true);
  sb.set(p.salt, 88);
  return sb;
}

/**
 * Computes the tree over `dataPath` and writes it to `hashPath`. The data size must be a multiple of 4096:
 * veritysetup silently ignores a partial tail block, so we refuse it instead (pad the data first).
 */
export function formatVerity(dataPath: string, hashPath: string, p: VerityParams): VerityFormat {
  const fd = openSync(dataPath, "r");
  let levels: Uint8Array[];
  let dataBlocks: number;
  let rootHash: Uint8Array;
  try {
    const size = fstatSync(fd).size;
    if (size % BLOCK !== 0) {
      throw new RangeError(
        `${dataPath}: size ${size} is not a multiple of ${BLOCK}; pad the data explicitly`,
      );
    }
    dataBlocks = size / BLOCK;
    if (dataBlocks === 0) throw new RangeError(`${dataPath}: empty data`);
    ({ levels, rootHash } = buildTree(fd, dataBlocks, p.salt));
  } finally {
    closeSync(fd);
  }
  const out = openSync(hashPath, "w");
  let hashSize = 0;
  try {
    if (p.superblock) {
      hashSize += writeSync(out, encodeVeritySuperblock(dataBlocks, p));
    }
    for (let i = levels.length - 1; i >= 0; i--) {
      const lvl = levels[i] as Uint8Array;
      hashSize += writeSync(out, lvl);
    }
  } finally {
    closeSync(out);
  }
  return { rootHash, dataBlocks, hashSize };
}

function buildTree(
  fd: number,
  dataBlocks: number,
  salt: Uint8Array,
): { levels: Uint8Array[]; rootHash: Uint8Array } {
  const hash = makeHasher(salt);
  const counts = verityLevels(dataBlocks);
  const rootHash = new Uint8Array(HASH);
  const buf = new Uint8Array(4 << 20);
  if (counts.length === 0) {
    readSync(fd, buf, 0, BLOCK, 0);
    hash(buf.subarray(0, BLOCK), rootHash);
    return { levels: [], rootHash };
  }
  const levels = counts.map((n) => new Uint8Array(n * BLOCK));
  const bottom = levels[0] as Uint8Array;
  let block = 0;
  let pos = 0;
  while (block < dataBlocks) {
    const n = readSync(fd, buf, 0, Math.min(buf.length, (dataBlocks - block) * BLOCK), pos);
    if (n <= 0 || n % BLOCK !== 0) throw new Error(`short read at ${pos}`);
    for (let o = 0; o < n; o += BLOCK, block++) {
      hash(buf.subarray(o, o + BLOCK), bottom.subarray(block * HASH, block * HASH + HASH));
    }
    pos += n;
  }
  for (let i = 1; i < levels.length; i++) {
    const below = levels[i - 1] as Uint8Array;
    const lvl = levels[i] as Uint8Array;
    for (let b = 0; b * BLOCK < below.length; b++) {
      hash(below.subarray(b * BLOCK, b * BLOCK + BLOCK), lvl.subarray(b * HASH, b * HASH + HASH));
    }
  }
  hash(levels[levels.length - 1] as Uint8Array, rootHash);
  return { levels, rootHash };
}

/** Outcome of {@link verifyVerity}. */
export type VerityCheck =
  | { ok: true }
  | { ok: false; area: "data" | "hash" | "root" | "superblock"; block: number; problem: string };

/** Parses a veritysetup superblock; errors name the offset of the bad field. */
export function parseVeritySuperblock(
  sb: Uint8Array,
):
  | { ok: true; value: { dataBlocks: number; salt: Uint8Array; uuid: Uint8Array } }
  | { ok: false; error: ComposefsFormatError } {
  if (sb.length < 512)
    return { ok: false, error: new ComposefsFormatError(0, `superblock truncated (${sb.length} bytes)`) };
  const dv = new DataView(sb.buffer, sb.byteOffset, sb.byteLength);
  const magic = new TextDecoder().decode(sb.subarray(0, 8));
  if (magic !== "verity\0\0")
    return { ok: false, error: new ComposefsFormatError(0, "bad superblock magic") };
  if (dv.getUint32(8, true) !== 1)
    return { ok: false, error: new ComposefsFormatError(8, "unsupported version") };
  if (dv.getUint32(12, true) !== 1)
    return { ok: false, error: new ComposefsFormatError(12, "unsupported hash type") };
  const alg = new TextDecoder().decode(sb.subarray(32, 64)).replace(/\0+$/, "");
  if (alg !== "sha256")
    return { ok: false, error: new ComposefsFormatError(32, `unsupported algorithm ${alg}`) };
  if (dv.getUint32(64, true) !== BLOCK || dv.getUint32(68, true) !== BLOCK) {
    return {
      ok: false,
      error: new ComposefsFormatError(64, "block sizes other than 4096 are not supported"),
    };
  }
  const blocks = dv.getBigUint64(72, true);
  if (blocks === 0n || blocks > 2n ** 40n)
    return { ok: false, error: new ComposefsFormatError(72, `bad data block count ${blocks}`) };
  const saltLen = dv.getUint16(80, true);
  if (saltLen > 256) return { ok: false, error: new ComposefsFormatError(80, `salt size ${saltLen} > 256`) };
  return {
    ok: true,
    value: { dataBlocks: Number(blocks), salt: sb.slice(88, 88 + saltLen), uuid: sb.slice(16, 32) },
  };
}

/**
 * Verifies `dataPath` against the tree in `hashPath` and the expected root hash. Without a superblock, pass
 * the salt. Reports the first bad block: a data block whose hash does not match, or a hash block.
 */
export function verifyVerity(
  dataPath: string,
  hashPath: string,
  expectedRoot: Uint8Array,
  opts: { salt?: Uint8Array; superblock?: boolean } = {},
): VerityCheck {
  const hashFile = readAll(hashPath);
  let salt = opts.salt ?? new Uint8Array(0);
  let offset = 0;
  const dfd = openSync(dataPath, "r");
  try {
    const size = fstatSync(dfd).size;
    let dataBlocks = Math.floor(size / BLOCK);
    if (opts.superblock !== false) {
      const sb = parseVeritySuperblock(hashFile.subarray(0, BLOCK));
      if (!sb.ok) return { ok: false, area: "superblock", block: 0, problem: sb.error.message };
      if (sb.value.dataBlocks > dataBlocks) {
        return {
          ok: false,
          area: "data",
          block: dataBlocks,
          problem: `data has ${dataBlocks} blocks, superblock says ${sb.value.dataBlocks}`,
        };
      }
      dataBlocks = sb.value.dataBlocks;
      salt = sb.value.salt;
      offset = BLOCK;
    }
    if (dataBlocks === 0) return { ok: false, area: "data", block: 0, problem: "no data blocks" };
    const counts = verityLevels(dataBlocks);
    const need = offset + counts.reduce((a, b) => a + b, 0) * BLOCK;
    if (hashFile.length < need)
      return {
        ok: false,
        area: "hash",
        block: hashFile.length / BLOCK,
        problem: `hash file is ${hashFile.length} bytes, needs ${need}`,
      };
    const { levels, rootHash } = buildTree(dfd, dataBlocks, salt);
    // Stored levels are top-down after the superblock.
    const stored: Uint8Array[] = [];
    let pos = offset;
    for (let i = counts.length - 1; i >= 0; i--) {
      const n = (counts[i] as number) * BLOCK;
      stored[i] = hashFile.subarray(pos, pos + n);
      pos += n;
    }
    // Bottom-up: the first stored hash that differs from the recomputed one names the bad block below it.
    for (let i = 0; i < counts.length; i++) {
      const want = levels[i] as Uint8Array;
      const got = stored[i] as Uint8Array;
      for (let h = 0; h * HASH < want.length; h++) {
        const a = want.subarray(h * HASH, h * HASH + HASH);
        const b = got.subarray(h * HASH, h * HASH + HASH);
        if (!equalBytes(a, b)) {
          if (i === 0)
            return { ok: false, area: "data", block: h, problem: `data block ${h} does not match its hash` };
          return {
            ok: false,
            area: "hash",
            block: h,
            problem: `hash block ${h} of level ${i - 1} does not match`,
          };
        }
      }
    }
    if (!equalBytes(rootHash, expectedRoot)) {
      return counts.length === 0
        ? { ok: false, area: "data", block: 0, problem: "data block 0 does not match the root hash" }
        : { ok: false, area: "root", block: 0, problem: "top hash block does not match the root hash" };
    }
    return { ok: true };
  } finally {
    closeSync(dfd);
  }
}

function readAll(path: string): Uint8Array {
  const fd = openSync(path, "r");
  try {
    const size = fstatSync(fd).size;
    const buf = new Uint8Array(size);
    let off = 0;
    while (off < size) {
      const n = readSync(fd, buf, off, size - off, off);
      if (n <= 0) break;
      off += n;
    }
    return buf.subarray(0, off);
  } finally {
    closeSync(fd);
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
