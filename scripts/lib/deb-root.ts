/**
 * A Debian package's files for a test or a smoke, from the same index and download cache the module builder uses
 * (checked against the index's sha256): the docker CLI from docker.io, busybox from busybox-static.
 */
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { createExec } from "@powernode/exec";
import { type DebArch, extractDeb, fetchDebs, loadAptIndex } from "../../lib/debian/src/index.ts";

/** Unpacks `pkg` of `arch` into `<dir>/<pkg>-<arch>` (once) and returns that root. */
export async function debRoot(pkg: string, arch: DebArch, dir: string): Promise<string> {
  const root = join(dir, `${pkg}-${arch}`);
  if (existsSync(join(root, ".done"))) return root;
  const exec = createExec();
  const index = await loadAptIndex(exec, arch);
  const p = index.packages.get(pkg);
  if (!p) throw new Error(`${pkg}: not in the ${arch} package index`);
  const [deb] = await fetchDebs(exec, [p]);
  mkdirSync(root, { recursive: true });
  await extractDeb(exec, deb ?? "", root);
  await Bun.write(join(root, ".done"), `${p.name}=${p.version}\n`);
  return root;
}
