/**
 * fs-verity file digests (sha256, 4096-byte blocks, optional salt), bit-compatible with the kernel's
 * `FS_IOC_MEASURE_VERITY` and `fsverity digest` (fsverity-utils). Streaming: memory stays at one block per
 * tree level, whatever the input size. See linux/Documentation/filesystems/fsverity.rst.
 */
import { closeSync, openSync, readSync } from "node:fs";

import { normalizeSize } from "./tree.ts";

const BLOCK = 4096;
const HASH = 32;

/** Options for fs-verity digests. */
export interface FsVerityOptions {
  /** Salt, at most 32 bytes; it is zero-padded to 64 bytes and prepended to every hashed block. */
  salt?: Uint8Array;
}

/** Incremental fs-verity hasher: feed bytes with `update`, read the 32-byte digest with `digest`. */
export interface FsVerityHasher {
  update(data: Uint8Array): void;
  /** Feeds `n` zero bytes (a hole of a sparse file) in time proportional to the tree height, not to `n`. */
  updateZeros(n: number | bigint): void;
  /** The fs-verity file digest (sha256 of the descriptor). The hasher must not be used afterwards. */
  digest(): Uint8Array;
  /** Bytes consumed so far (a bigint once above 2^53 - 1). */
  readonly size: number | bigint;
}

interface Level {
  buf: Uint8Array;
  fill: number;
  /** Number of full blocks already emitted from this level into the one above. */
  emitted: number;
}

/** Creates a streaming fs-verity hasher. */
export function createFsVerityHasher(opts: FsVerityOptions = {}): FsVerityHasher {
  const salt = opts.salt ?? new Uint8Array(0);
  if (salt.length > 32)
    throw new RangeError(`fs-verity salt is ${salt.length} bytes; at most 32 are allowed`);
  const paddedSalt = new Uint8Array(salt.length === 0 ? 0 : Math.ceil(salt.length / 64) * 64);
  paddedSalt.set(salt);
  // Salted hashing copies each block behind the padded salt in one scratch buffer (one native call per block).
  const scratch = paddedSalt.length > 0 ? new Uint8Array(paddedSalt.length + BLOCK) : undefined;
  scratch?.set(paddedSalt);
  const block = new Uint8Array(BLOCK);
  let blockFill = 0;
  let size = 0;
  /** Bytes fed by updateZeros beyond `size`, kept exact for files over 2^53 bytes. */
  let zeroBytes = 0n;
  const levels: Level[] = [];
  /** Hash of an all-zero block of each level (level 0: a zero data block), computed when first needed. */
  const zeroHashes: Uint8Array[] = [];

  const hashInto = (data: Uint8Array, out: Uint8Array, at: number): void => {
    const target = out.subarray(at, at + HASH);
    if (scratch) {
      scratch.set(data, paddedSalt.length);
      Bun.SHA256.hash(scratch, target);
    } else Bun.SHA256.hash(data, target);
  };

  const pushHash = (lvl: number, src: Uint8Array): void => {
    let level = levels[lvl];
    if (!level) {
      level = { buf: new Uint8Array(BLOCK), fill: 0, emitted: 0 };
      levels[lvl] = level;
    }
    hashInto(src, level.buf, level.fill);
    level.fill += HASH;
    if (level.fill === BLOCK) {
      pushHash(lvl + 1, level.buf);
      level.fill = 0;
      level.emitted++;
      level.buf.fill(0);
    }
  };

  const levelAt = (lvl: number): Level => {
    let level = levels[lvl];
    if (!level) {
      level = { buf: new Uint8Array(BLOCK), fill: 0, emitted: 0 };
      levels[lvl] = level;
    }
    return level;
  };

  const zeroHash = (lvl: number): Uint8Array => {
    let z = zeroHashes[lvl];
    if (!z) {
      const block = new Uint8Array(BLOCK);
      if (lvl > 0) {
        const below = zeroHash(lvl - 1);
        for (let i = 0; i < BLOCK; i += HASH) block.set(below, i);
      }
      z = new Uint8Array(HASH);
      hashInto(block, z, 0);
      zeroHashes[lvl] = z;
    }
    return z;
  };

  /** Appends `count` hashes of all-zero blocks of the level below `lvl` to level `lvl`. */
  const pushZeroRun = (lvl: number, count: number): void => {
    const level = levelAt(lvl);
    const per = BLOCK / HASH;
    while (count > 0) {
      if (level.fill === 0 && count >= per) {
        const blocks = Math.floor(count / per);
        pushZeroRun(lvl + 1, blocks);
        level.emitted += blocks;
        count -= blocks * per;
        continue;
      }
      level.buf.set(zeroHash(lvl), level.fill);
      level.fill += HASH;
      count--;
      if (level.fill === BLOCK) {
        pushHash(lvl + 1, level.buf);
        level.fill = 0;
        level.emitted++;
        level.buf.fill(0);
      }
    }
  };

  return {
    get size() {
      return zeroBytes === 0n ? size : normalizeSize(BigInt(size) + zeroBytes);
    },
    updateZeros(n) {
      let left = BigInt(n);
      if (left <= 0n) return;
      zeroBytes += left;
      if (blockFill > 0) {
        const take = Number(left < BigInt(BLOCK - blockFill) ? left : BigInt(BLOCK - blockFill));
        block.fill(0, blockFill, blockFill + take);
        blockFill += take;
        left -= BigInt(take);
        if (blockFill === BLOCK) {
          pushHash(0, block);
          blockFill = 0;
        }
      }
      const whole = Number(left / BigInt(BLOCK));
      if (whole > 0) pushZeroRun(0, whole);
      const rest = Number(left % BigInt(BLOCK));
      if (rest > 0) {
        block.fill(0, 0, rest);
        blockFill = rest;
      }
    },
    update(data) {
      size += data.length;
      let off = 0;
      if (blockFill > 0) {
        const take = Math.min(BLOCK - blockFill, data.length);
        block.set(data.subarray(0, take), blockFill);
        blockFill += take;
        off = take;
        if (blockFill === BLOCK) {
          pushHash(0, block);
          blockFill = 0;
        }
      }
      while (data.length - off >= BLOCK) {
        pushHash(0, data.subarray(off, off + BLOCK));
        off += BLOCK;
      }
      if (off < data.length) {
        block.set(data.subarray(off), 0);
        blockFill = data.length - off;
      }
    },
    digest() {
      const root = new Uint8Array(64);
      if (size > 0 || zeroBytes > 0n) {
        if (blockFill > 0) {
          block.fill(0, blockFill);
          pushHash(0, block);
          blockFill = 0;
        }
        // Walk up: a level that never emitted a block and holds one block's worth is the top.
        for (let i = 0; ; i++) {
          const level = levels[i];
          if (!level) throw new Error("fs-verity: internal error, missing tree level");
          if (level.emitted === 0 && levels[i + 1] === undefined) {
            // One hash at the top: it already is the hash of the single block below (or of the only
            // data block). Otherwise the top level is one partly filled block: hash it.
            if (level.fill === HASH) root.set(level.buf.subarray(0, HASH));
            else hashInto(level.buf, root, 0);
            break;
          }
          if (level.fill > 0) {
            pushHash(i + 1, level.buf);
            level.fill = 0;
            level.emitted++;
          }
        }
      }
      const desc = new Uint8Array(256);
      const dv = new DataView(desc.buffer);
      desc[0] = 1;
      desc[1] = 1;
      desc[2] = 12;
      desc[3] = salt.length;
      dv.setBigUint64(8, BigInt(size) + zeroBytes, true);
      desc.set(root, 16);
      desc.set(salt, 80);
      return new Uint8Array(Bun.SHA256.hash(desc) as Uint8Array);
    },
  };
}

const smallBlock = new Uint8Array(BLOCK);
const smallDesc = new Uint8Array(256);
const smallDescView = new DataView(smallDesc.buffer);

/**
 * Fast path for unsalted data of at most one block (most files of a root filesystem): no tree, the root
 * hash is the hash of the zero-padded block; reuses module-level scratch buffers.
 */
function digestOneBlock(data: Uint8Array): Uint8Array {
  smallDesc.fill(0);
  if (data.length > 0) {
    smallBlock.set(data);
    smallBlock.fill(0, data.length);
    Bun.SHA256.hash(smallBlock, smallDesc.subarray(16, 16 + HASH));
  }
  smallDesc[0] = 1;
  smallDesc[1] = 1;
  smallDesc[2] = 12;
  smallDescView.setBigUint64(8, BigInt(data.length), true);
  const out = new Uint8Array(HASH);
  Bun.SHA256.hash(smallDesc, out);
  return out;
}

/** fs-verity digest of an in-memory buffer. */
export function fsVerityDigest(data: Uint8Array, opts: FsVerityOptions = {}): Uint8Array {
  if (data.length <= BLOCK && !opts.salt?.length) return digestOneBlock(data);
  const h = createFsVerityHasher(opts);
  h.update(data);
  return h.digest();
}

/** fs-verity digest of a file, read in 4 MiB chunks. */
export function fsVerityDigestFile(path: string, opts: FsVerityOptions = {}): Uint8Array {
  const h = createFsVerityHasher(opts);
  const buf = new Uint8Array(4 << 20);
  const fd = openSync(path, "r");
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n <= 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return h.digest();
}

/** Lower-case hex of bytes. */
export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
}

/** Bytes from hex; throws RangeError on odd length or a non-hex character. */
export function fromHex(s: string): Uint8Array {
  try {
    return Uint8Array.fromHex(s);
  } catch {
    throw new RangeError(`not a hex string: ${JSON.stringify(s.slice(0, 80))}`);
  }
}
