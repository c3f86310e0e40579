/**
 * The source directory of the `dir-hardlinks` upstream fixture, built the same way by the test and by
 * upstream-fixtures.ts (which ran mkcomposefs 1.0.8 on it): hardlink chains within and across
 * directories, inline / external boundary sizes, a sparse file, symlinks, xattrs (one `user.a=b`), modes,
 * times before 1970 and fixed times on everything (directories last).
 */
import {
  chmodSync,
  closeSync,
  linkSync,
  mkdirSync,
  openSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { writeXattr } from "../src/libc-ffi.ts";
import { createRng, exec } from "./harness.ts";

/** Size of the sparse file (mostly a hole, 64 KiB of data at 100 MiB). */
export const SPARSE_SIZE = 200 << 20;

/**
 * Creates the fixture tree at `root` (which must not exist). Needs root for the 0:0 ownership upstream saw.
 * Times are set with `touch -h -d @T` (Bun's utimesSync ignores times before 1970).
 */
export async function makeUpstreamTree(root: string): Promise<void> {
  const rng = createRng(21);
  for (const d of ["a", "a/deep", "b", "c"]) mkdirSync(join(root, d), { recursive: true });
  const files: [string, number][] = [
    ["a/empty", 0],
    ["a/inline-64", 64],
    ["a/external-65", 65],
    ["a/deep/five-k", 5000],
    ["b/block", 4096],
    ["b/big", 300_000],
    ["c/x", 10],
  ];
  for (const [p, n] of files) writeFileSync(join(root, p), rng.bytes(n));
  // Hardlink chains: a/external-65 under 3 names in 3 directories, c/x twice in one, a 64-byte file twice.
  linkSync(join(root, "a/external-65"), join(root, "b/link-to-external"));
  linkSync(join(root, "b/link-to-external"), join(root, "c/chain"));
  linkSync(join(root, "c/x"), join(root, "c/y"));
  linkSync(join(root, "a/inline-64"), join(root, "inline-link"));
  const fd = openSync(join(root, "b/sparse"), "w");
  writeSync(fd, rng.bytes(65_536), 0, 65_536, 100 << 20);
  writeSync(fd, Buffer.from([1]), 0, 1, SPARSE_SIZE - 1);
  closeSync(fd);
  symlinkSync("a/deep/five-k", join(root, "sym"));
  symlinkSync("-", join(root, "dash-link"));
  writeXattr(join(root, "a/external-65"), "user.a=b", Buffer.from("c"));
  writeXattr(join(root, "a/external-65"), "user.empty", new Uint8Array(0));
  writeXattr(join(root, "c/x"), "user.dash", Buffer.from("-"));
  writeXattr(join(root, "a"), "trusted.overlay.opaque", Buffer.from("y"));
  writeXattr(join(root, "b/big"), "user.bin", Buffer.from([0, 10, 61, 255]));
  chmodSync(join(root, "a/deep/five-k"), 0o4755);
  chmodSync(join(root, "c"), 0o1777);
  chmodSync(join(root, "b/block"), 0o600);
  const times: [string, number][] = [
    ["a/empty", -86_400.25],
    ["a/inline-64", 1_000_000_000.5],
    ["a/external-65", -1],
    ["a/deep/five-k", 1_700_000_000],
    ["b/block", 1_700_000_000],
    ["b/big", 1_700_000_000],
    ["b/sparse", 1_700_000_001],
    ["c/x", -2_000_000_000],
  ];
  times.push(["sym", 1_700_000_000], ["dash-link", 1_700_000_000]);
  for (const d of ["a/deep", "a", "b", "c", "."]) times.push([d, 1_600_000_000]);
  for (const [p, t] of times) await exec.run("touch", ["-h", "-d", `@${t}`, join(root, p)]);
}
