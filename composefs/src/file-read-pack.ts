/**
 * What a reader thread sends back for a batch of files, packed into one transferable buffer (structured
 * clones of 100,000 small objects cost more than reading them): per file a kind byte (0 nothing, 1 inline
 * content, 2 digest), the bytes with a u32 length, then its xattrs (u32 count; per xattr u32 name length,
 * name as latin1, u32 value length, value). Unpacked values are views into the buffer.
 */
import type { FileRead } from "./file-digests.ts";
import type { Xattr } from "./tree.ts";

export function packReads(reads: readonly FileRead[]): Uint8Array {
  let size = 0;
  for (const r of reads) {
    size += 1 + 4 + (r.content?.length ?? r.digest?.length ?? 0) + 4;
    for (const x of r.xattrs) size += 8 + x.name.length + x.value.length;
  }
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let at = 0;
  const bytes = (b: Uint8Array) => {
    view.setUint32(at, b.length, true);
    out.set(b, at + 4);
    at += 4 + b.length;
  };
  for (const r of reads) {
    out[at++] = r.content ? 1 : r.digest ? 2 : 0;
    bytes(r.content ?? r.digest ?? new Uint8Array(0));
    view.setUint32(at, r.xattrs.length, true);
    at += 4;
    for (const x of r.xattrs) {
      bytes(Buffer.from(x.name, "latin1"));
      bytes(x.value);
    }
  }
  return out;
}

export function unpackReads(buf: Uint8Array, count: number): FileRead[] {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let at = 0;
  const bytes = () => {
    const n = view.getUint32(at, true);
    const b = buf.subarray(at + 4, at + 4 + n);
    at += 4 + n;
    return b;
  };
  const out: FileRead[] = [];
  for (let i = 0; i < count; i++) {
    const kind = buf[at++];
    const data = bytes();
    const n = view.getUint32(at, true);
    at += 4;
    const xattrs: Xattr[] = [];
    for (let j = 0; j < n; j++) {
      const name = Buffer.from(bytes()).toString("latin1");
      xattrs.push({ name, value: bytes() });
    }
    out.push(kind === 1 ? { xattrs, content: data } : kind === 2 ? { xattrs, digest: data } : { xattrs });
  }
  if (at !== buf.length) throw new Error(`reader answer: ${buf.length - at} bytes left after ${count} files`);
  return out;
}
