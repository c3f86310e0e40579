/**
 * Host check of built modules: loop-mount each blob image (EROFS) and metadata image, stack them the way a
 * node does (`lowerdir=<meta top>:...:<meta base>::<blob top>::...::<blob base>`, data-only layers for
 * the objects, tmpfs upper), run `fn` on the composed root, unmount everything. Needs root, erofs and
 * overlay (kernel >= 6.5 for data-only layers); no dm-verity here (the host has none), so the blobs are
 * mounted without verification.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createExec, type Exec } from "@powernode/exec";
import type { BuiltModuleFiles } from "./build-module.ts";

/** Runs `fn(root)` with the modules (highest priority first) composed under an overlay. */
export async function withComposedRoot<T>(
  modules: readonly Pick<BuiltModuleFiles, "metadata" | "blob">[],
  fn: (root: string) => Promise<T>,
  exec: Exec = createExec(),
): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), "pn-compose-"));
  const mounted: string[] = [];
  const mount = async (args: string[], at: string) => {
    mkdirSync(at, { recursive: true });
    await exec.run("mount", [...args, at], { timeoutMs: 30_000 });
    mounted.push(at);
  };
  const unmountAll = async (): Promise<string[]> => {
    const errors: string[] = [];
    for (const at of mounted.reverse()) {
      const r = await exec.run("umount", [at], { timeoutMs: 30_000, allowFailure: true });
      if (r.exitCode !== 0) errors.push(`umount ${at}: ${r.stderr.trim()}`);
    }
    if (errors.length === 0) rmSync(dir, { recursive: true, force: true });
    return errors;
  };
  let result: T;
  try {
    const metas: string[] = [];
    const blobs: string[] = [];
    for (const [i, m] of modules.entries()) {
      const blob = join(dir, `blob${i}`);
      const meta = join(dir, `meta${i}`);
      await mount(["-t", "erofs", "-o", "loop,ro", m.blob], blob);
      await mount(["-t", "erofs", "-o", "loop,ro", m.metadata], meta);
      blobs.push(blob);
      metas.push(meta);
    }
    const rw = join(dir, "rw");
    await mount(["-t", "tmpfs", "tmpfs"], rw);
    mkdirSync(join(rw, "upper"));
    mkdirSync(join(rw, "work"));
    const root = join(dir, "root");
    const lower = `${metas.join(":")}::${blobs.join("::")}`;
    await mount(
      [
        "-t",
        "overlay",
        "overlay",
        "-o",
        `metacopy=on,redirect_dir=on,lowerdir=${lower},upperdir=${rw}/upper,workdir=${rw}/work`,
      ],
      root,
    );
    result = await fn(root);
  } catch (e) {
    await unmountAll();
    throw e;
  }
  const errors = await unmountAll();
  if (errors.length > 0) throw new Error(`composed root cleanup: ${errors.join("; ")} (left ${dir})`);
  return result;
}
