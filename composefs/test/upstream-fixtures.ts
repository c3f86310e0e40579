/**
 * Regenerates the upstream fixtures in test/upstream-1.0.8/ with a containers/composefs 1.0.8 `mkcomposefs`
 * found through $MKCOMPOSEFS (nothing here builds it): every `*.dump` there is written to `<name>.cfs` with
 * `mkcomposefs --from-file --print-digest`, the random trees are written as `random-<seed>.dump` first, and
 * the tree of upstream-tree.ts becomes `dir-hardlinks.cfs`; digests go to `digests.txt`, refusals to
 * `refused.txt`. Run: MKCOMPOSEFS=/path/to/mkcomposefs bun composefs/test/upstream-fixtures.ts
 */
import { readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createExec } from "@powernode/exec";
import { toDump } from "../src/dump.ts";
import { randomTree, tempDir } from "./harness.ts";
import { makeUpstreamTree } from "./upstream-tree.ts";

export const FIXTURES = join(import.meta.dir, "upstream-1.0.8");
export const RANDOM_SEEDS = [1, 2, 3, 5, 8, 13];

if (import.meta.main) {
  const mk = process.env.MKCOMPOSEFS;
  if (!mk) throw new Error("set MKCOMPOSEFS to a containers/composefs 1.0.8 mkcomposefs");
  const exec = createExec();
  for (const seed of RANDOM_SEEDS)
    writeFileSync(
      join(FIXTURES, `random-${seed}.dump`),
      toDump(randomTree(seed, { size: 60, wide: seed === 5 })),
    );
  const digests: string[] = [];
  const refused: string[] = [];
  for (const f of readdirSync(FIXTURES)
    .filter((n) => n.endsWith(".dump"))
    .sort()) {
    const name = f.slice(0, -5);
    const out = join(FIXTURES, `${name}.cfs`);
    rmSync(out, { force: true });
    try {
      const r = await exec.run(mk, ["--from-file", "--print-digest", join(FIXTURES, f), out], {
        timeoutMs: 60_000,
      });
      digests.push(`${name} ${r.stdout.trim()}`);
    } catch (e) {
      rmSync(out, { force: true });
      refused.push(`${name}: ${(e as Error).message.split(": ").pop()}`);
    }
  }
  using dir = tempDir();
  const src = join(dir.path, "src");
  await makeUpstreamTree(src);
  const r = await exec.run(mk, ["--print-digest", src, join(FIXTURES, "dir-hardlinks.cfs")], {
    timeoutMs: 60_000,
  });
  digests.push(`dir-hardlinks ${r.stdout.trim()}`);
  writeFileSync(join(FIXTURES, "digests.txt"), `${digests.join("\n")}\n`);
  writeFileSync(join(FIXTURES, "refused.txt"), `${refused.join("\n")}\n`);
  console.log(`${digests.length} images, ${refused.length} refused`);
}
