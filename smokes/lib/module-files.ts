/**
 * Where a module's files live in its built images, read on the host: the composefs metadata image names
 * each regular file's content object (its overlay redirect), and `dump.erofs -e` gives that object's
 * extents in the blob image. Modules are built uncompressed (mkfs.erofs -T0, no compression), so a
 * physical offset in an extent is the byte of the blob a node's dm-verity device serves for it.
 */
import { closeSync, openSync, readFileSync, readSync } from "node:fs";
import { readImage } from "@powernode/composefs";
import { createExec, type Exec } from "@powernode/exec";

/** One extent of a file in the blob image (bytes). */
export interface BlobExtent {
  logical: number;
  physical: number;
  length: number;
}

/** A regular file of a module: its size, content object and where that lies in the blob. */
export interface ModuleFile {
  path: string;
  size: number;
  /** The content object's path inside the blob image (e.g. `84/2ff9...`). */
  object: string;
  extents: BlobExtent[];
}

/** The regular files of a module's metadata image with their content objects (inline files have none). */
export function listModuleFiles(
  metadataImage: string,
): Array<{ path: string; size: number; object: string }> {
  const r = readImage(readFileSync(metadataImage));
  if (!r.ok) throw new Error(`${metadataImage}: ${r.error.message}`);
  const out: Array<{ path: string; size: number; object: string }> = [];
  const walk = (dir: typeof r.value.root, prefix: string) => {
    for (const [name, node] of dir.children) {
      const path = `${prefix}/${name}`;
      if (node.type === "dir") walk(node, path);
      else if (node.type === "file" && node.redirect)
        out.push({ path, size: Number(node.size), object: node.redirect });
    }
  };
  walk(r.value.root, "");
  return out;
}

/**
 * Parses the extent table of `dump.erofs --path=X -e`:
 * `   0:        0.. 1261568 | 1261568 :     929792..   2191360 | 1261568`.
 */
export function parseErofsExtents(dump: string): BlobExtent[] {
  const out: BlobExtent[] = [];
  const re = /^\s*\d+:\s*(\d+)\.\.\s*(\d+)\s*\|\s*(\d+)\s*:\s*(\d+)\.\.\s*(\d+)\s*\|\s*(\d+)\s*$/;
  for (const line of dump.split("\n")) {
    const m = line.match(re);
    if (!m) continue;
    const [logical = 0, , , physical = 0, physicalEnd = 0, length = 0] = m.slice(1).map(Number);
    if (physicalEnd - physical !== length)
      throw new Error(`dump.erofs extent "${line.trim()}" is not stored uncompressed`);
    out.push({ logical, physical, length });
  }
  return out;
}

/** Locates a file of a module (`path` in the composed root) in its blob image. */
export async function locateModuleFile(
  files: { metadata: string; blob: string },
  path: string,
  exec: Exec = createExec(),
): Promise<ModuleFile> {
  const f = listModuleFiles(files.metadata).find((x) => x.path === path);
  if (!f) throw new Error(`${path}: not a regular file with a content object in ${files.metadata}`);
  const r = await exec.run("dump.erofs", [`--path=/${f.object}`, "-e", files.blob], { timeoutMs: 30_000 });
  const extents = parseErofsExtents(r.stdout);
  const total = extents.reduce((n, e) => n + e.length, 0);
  if (total !== f.size) throw new Error(`${path}: extents cover ${total} bytes, the file has ${f.size}`);
  return { ...f, extents };
}

/** sha256 (hex) of a located file's bytes, read from the blob image through its extents. */
export function sha256FromBlob(blob: string, file: ModuleFile): string {
  const h = new Bun.CryptoHasher("sha256");
  const fd = openSync(blob, "r");
  try {
    for (const e of [...file.extents].sort((a, b) => a.logical - b.logical)) {
      const buf = Buffer.alloc(e.length);
      let got = 0;
      while (got < e.length) {
        const n = readSync(fd, buf, got, e.length - got, e.physical + got);
        if (n === 0) throw new Error(`${blob}: short read at ${e.physical + got}`);
        got += n;
      }
      h.update(buf);
    }
  } finally {
    closeSync(fd);
  }
  return h.digest("hex");
}
