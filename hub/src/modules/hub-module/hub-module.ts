/**
 * The `powernode-hub` module: the hub compiled into one binary (initramfs/hub-build.ts), its SQL
 * migrations and a start script at /usr/lib/powernode-hub, as a module like any other (composefs +
 * dm-verity). With the postgresql module on a persistent node it is a hub of its own: the agent
 * supervises both, the hub on the node's PostgreSQL (decision 0040).
 */
import { createHash } from "node:crypto";
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from "node:fs";
import { join, resolve } from "node:path";
import type { DebArch } from "@powernode/debian";
import type { Exec } from "@powernode/exec";
import { MIGRATIONS_FOLDER } from "../../db/migrate.ts";
import { type BuiltModule, buildModule } from "../build-module.ts";
import { elfArch, readElfHeader } from "../k3s-module.ts";

export const HUB_MODULE_NAME = "powernode-hub";
/** Above the databases and runtimes it runs beside. */
export const HUB_MODULE_PRIORITY = 50;
export const HUB_DIR = "/usr/lib/powernode-hub";

/**
 * The default version of a build: `0.1.0+g<12 hex of a sha256 over the binary, the start script and the
 * migrations>`: the same content gives the same version, any change a new one (versions are immutable).
 */
export function hubModuleVersion(binary: string): string {
  const h = createHash("sha256").update(readFileSync(binary)).update(readFileSync(RUN_SCRIPT));
  for (const f of readdirSync(MIGRATIONS_FOLDER, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .sort())
    h.update(f.slice(MIGRATIONS_FOLDER.length)).update(readFileSync(f));
  return `0.1.0+g${h.digest("hex").slice(0, 12)}`;
}

const RUN_SCRIPT = join(import.meta.dir, "run.sh");

export interface HubModuleInput {
  /** The compiled hub for `arch` (compileHubBuild). */
  binary: string;
  arch: DebArch;
  /** Default {@link hubModuleVersion}. */
  version?: string;
  outDir: string;
  exec?: Exec;
}

/** Checks the binary's arch and builds the module into `outDir`. */
export async function buildHubModule(input: HubModuleInput): Promise<BuiltModule> {
  const binary = resolve(input.binary);
  if (!existsSync(binary) || !statSync(binary).isFile()) throw new Error(`hub binary ${binary}: not a file`);
  const elf = elfArch(readElfHeader(binary));
  if ("error" in elf) throw new Error(`hub binary ${binary}: ${elf.error}`);
  if (elf.arch !== input.arch)
    throw new Error(`hub binary ${binary} is an ${elf.arch} binary, the module is for ${input.arch}`);
  const stage = `${resolve(input.outDir)}.stage`;
  rmSync(stage, { recursive: true, force: true });
  try {
    const dir = join(stage, HUB_DIR);
    mkdirSync(dir, { recursive: true });
    copyFileSync(binary, join(dir, "powernode-hub"));
    chmodSync(join(dir, "powernode-hub"), 0o755);
    copyFileSync(RUN_SCRIPT, join(dir, "run"));
    chmodSync(join(dir, "run"), 0o755);
    cpSync(MIGRATIONS_FOLDER, join(dir, "drizzle"), { recursive: true });
    return await buildModule({
      source: { dir: stage },
      name: HUB_MODULE_NAME,
      version: input.version ?? hubModuleVersion(binary),
      arch: input.arch,
      priority: HUB_MODULE_PRIORITY,
      outDir: input.outDir,
      dirs: ["/var/lib/powernode-hub:0700"],
      services: [{ name: "hub", exec: [`${HUB_DIR}/run`], restart: "always" }],
      ...(input.exec ? { exec: input.exec } : {}),
    });
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}
