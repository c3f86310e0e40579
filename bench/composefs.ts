/**
 * composefs timing, ours vs the reference tools, side by side in one run (median of 3, interleaved so both
 * see the same background load on the shared machine; ratio = ours / theirs, goal <= 1.0):
 *   1. image build of a 100,000-file tree from the directory (lstat, xattrs, fs-verity digests, image
 *      written to disk) against `mkfs.erofs -T0 --all-root` and against upstream `mkcomposefs`; with the
 *      object store against `mkcomposefs --digest-store`;
 *   2. the same image from composefs-dump text against `mkcomposefs --from-file`;
 *   3. fs-verity digest of a 256 MiB file against `fsverity digest`, dm-verity tree against `veritysetup`.
 * Upstream containers/composefs `mkcomposefs` is used where found: $MKCOMPOSEFS, else `mkcomposefs` on
 * PATH (no Debian package exists; build it from source outside the repo). Its rows say so when it is
 * missing. Ours and upstream's images are compared byte for byte on the way.
 * Run: bun bench/composefs.ts   (MKCOMPOSEFS=/path/to/mkcomposefs bun bench/composefs.ts)
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createExec } from "@powernode/exec";
import {
  createObjectStore,
  formatVerity,
  fsVerityDigestFile,
  parseDump,
  toDump,
  toHex,
  treeFromDirectory,
  treeFromDirectoryParallel,
  writeImage,
} from "../composefs/src/index.ts";

const exec = createExec();
const FILES = 100_000;
const BIG = 256 << 20;
const RUNS = 3;
const LONG = { timeoutMs: 600_000 };
const upstream = process.env.MKCOMPOSEFS || Bun.which("mkcomposefs") || undefined;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const time = async (fn: () => Promise<unknown> | unknown): Promise<number> => {
  const t = performance.now();
  await fn();
  return performance.now() - t;
};
/** Median of RUNS of ours and of theirs, run alternately. */
async function versus(ours: () => unknown, theirs: () => Promise<unknown>): Promise<[number, number]> {
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    b.push(await time(theirs));
    a.push(await time(ours));
  }
  return [median(a), median(b)];
}

const root = mkdtempSync(join(tmpdir(), "cfs-bench-"));
const rows: [string, number, number | undefined, string][] = [];
const notes: string[] = [];
try {
  // A 100k-file tree: 1000 directories x 100 files of 0..299 bytes, every content distinct (about a fifth
  // inline, the rest external). The generator's high bits are used: an LCG's low bits repeat quickly.
  const src = join(root, "src");
  let seed = 1;
  const rnd = (): number => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed >>> 16;
  };
  for (let d = 0; d < FILES / 100; d++) {
    const dir = join(src, `d${Math.floor(d / 100)}`, `sub${d}`);
    mkdirSync(dir, { recursive: true });
    for (let f = 0; f < 100; f++) {
      const len = rnd() % 300;
      const buf = Buffer.alloc(len);
      for (let i = 0; i < len; i++) buf[i] = rnd() & 0xff;
      if (len >= 4) buf.writeUInt32LE(d * 100 + f, 0); // distinct even where the generator repeats
      writeFileSync(join(dir, `file-${f}.dat`), buf);
    }
  }
  await exec.run("sync", []);
  const ourImage = join(root, "ours.cfs");
  const upImage = join(root, "upstream.cfs");
  // Ours reads the files on the machine's cores (treeFromDirectoryParallel): the issue allows it, and
  // mkcomposefs digests on threads too. The single-threaded walk is the row after the table.
  const fromDir = async (): Promise<void> => {
    writeFileSync(ourImage, writeImage(await treeFromDirectoryParallel(src)).image);
  };

  const [dirOurs, mkfs] = await versus(fromDir, async () => {
    await exec.run("mkfs.erofs", ["--quiet", "-T0", "--all-root", join(root, "mkfs.erofs"), src], LONG);
    rmSync(join(root, "mkfs.erofs"), { force: true });
  });
  rows.push([`image from a directory, ${FILES} files, vs mkfs.erofs -T0`, dirOurs, mkfs, "1.0"]);

  if (upstream) {
    const [o, u] = await versus(fromDir, () => exec.run(upstream, [src, upImage], LONG));
    rows.push([`image from a directory, ${FILES} files, vs mkcomposefs`, o, u, "1.0"]);
    notes.push(`from a directory: ${same(ourImage, upImage)}`);
    let n = 0;
    const [so, su] = await versus(
      () => {
        const out = join(root, `store-ours-${n}`);
        const store = createObjectStore(out);
        writeFileSync(ourImage, writeImage(treeFromDirectory(src, { store })).image);
        rmSync(out, { recursive: true, force: true });
      },
      async () => {
        const out = join(root, `store-up-${n++}`);
        await exec.run(upstream, [`--digest-store=${out}`, src, upImage], LONG);
        rmSync(out, { recursive: true, force: true });
      },
    );
    rows.push(["  same, also filling the object store, vs mkcomposefs --digest-store", so, su, "1.0"]);
  } else rows.push([`image from a directory, ${FILES} files, vs mkcomposefs`, dirOurs, undefined, "1.0"]);

  const singles: number[] = [];
  for (let i = 0; i < RUNS; i++)
    singles.push(await time(() => writeFileSync(ourImage, writeImage(treeFromDirectory(src)).image)));
  const single = median(singles);
  notes.push(
    `from a directory on one thread (treeFromDirectory): ${single.toFixed(0)} ms, ${(single / mkfs).toFixed(2)} of mkfs.erofs`,
  );

  const dumpFile = join(root, "tree.dump");
  writeFileSync(dumpFile, toDump(treeFromDirectory(src)), "latin1");
  const fromDump = (): void => {
    const r = parseDump(readFileSync(dumpFile, "latin1"));
    if (!r.ok) throw r.error;
    writeFileSync(ourImage, writeImage(r.value).image);
  };
  if (upstream) {
    const [o, u] = await versus(fromDump, () => exec.run(upstream, ["--from-file", dumpFile, upImage], LONG));
    rows.push([`image from dump text, ${FILES} files, vs mkcomposefs --from-file`, o, u, "1.0"]);
    notes.push(`from dump text: ${same(ourImage, upImage)}`);
  } else {
    const a: number[] = [];
    for (let i = 0; i < RUNS; i++) a.push(await time(fromDump));
    rows.push([
      `image from dump text, ${FILES} files, vs mkcomposefs --from-file`,
      median(a),
      undefined,
      "1.0",
    ]);
  }
  rmSync(src, { recursive: true, force: true });

  // fs-verity and dm-verity of a 256 MiB file of pseudo-random bytes.
  const big = join(root, "big");
  const chunk = Buffer.alloc(1 << 20);
  for (let i = 0; i < chunk.length; i += 2) chunk.writeUInt16LE(rnd(), i);
  writeFileSync(big, Buffer.concat(Array.from({ length: BIG >> 20 }, () => chunk)));
  let fsvOurs = "";
  let fsvTheirs = "";
  const [fsv, fsvRef] = await versus(
    () => {
      fsvOurs = toHex(fsVerityDigestFile(big));
    },
    async () => {
      fsvTheirs = (await exec.run("fsverity", ["digest", "--compact", big])).stdout.trim();
    },
  );
  if (fsvOurs !== fsvTheirs) throw new Error(`fs-verity digests differ: ${fsvOurs} vs ${fsvTheirs}`);
  rows.push(["fs-verity digest, 256 MiB, vs fsverity digest", fsv, fsvRef, "1.0"]);
  const salt = Buffer.alloc(32, 7);
  let dmOurs = "";
  let dmTheirs = "";
  const [dm, dmRef] = await versus(
    () => {
      dmOurs = toHex(formatVerity(big, join(root, "h-ours"), { salt, superblock: true }).rootHash);
    },
    async () => {
      const rootFile = join(root, "h-theirs.root");
      const args = ["format", big, join(root, "h-theirs"), `--salt=${salt.toString("hex")}`];
      await exec.run("veritysetup", [...args, `--root-hash-file=${rootFile}`], LONG);
      dmTheirs = readFileSync(rootFile, "utf8").trim();
    },
  );
  if (dmOurs !== dmTheirs) throw new Error(`dm-verity root hashes differ: ${dmOurs} vs ${dmTheirs}`);
  rows.push(["dm-verity format, 256 MiB, vs veritysetup format", dm, dmRef, "1.0"]);
} finally {
  rmSync(root, { recursive: true, force: true });
}

function same(a: string, b: string): string {
  return Buffer.compare(readFileSync(a), readFileSync(b)) === 0
    ? "ours and mkcomposefs' images are byte-identical"
    : "IMAGES DIFFER from mkcomposefs'";
}

console.log(
  `median of ${RUNS}; upstream mkcomposefs: ${upstream ?? "not found (set MKCOMPOSEFS or put it on PATH)"}`,
);
const w = Math.max(...rows.map((r) => r[0].length));
console.log(
  `${"benchmark".padEnd(w)}  ${"ours ms".padStart(9)}  ${"theirs ms".padStart(9)}  ${"ratio".padStart(6)}  goal`,
);
for (const [name, a, b, goal] of rows) {
  const theirs = b === undefined ? "-".padStart(9) : b.toFixed(0).padStart(9);
  const ratio = b === undefined ? "n/a".padStart(6) : (a / b).toFixed(2).padStart(6);
  console.log(`${name.padEnd(w)}  ${a.toFixed(0).padStart(9)}  ${theirs}  ${ratio}  <= ${goal}`);
}
for (const n of notes) console.log(n);
