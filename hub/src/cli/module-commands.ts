/**
 * pnctl module commands: `module build`, `module publish`, `module ls`. `runModuleCommand` is called by
 * run.ts for the `module` group before any token is needed (building needs none).
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import type { DebArch } from "@powernode/debian";
import { Arch } from "@powernode/proto";
import { type BuiltModule, buildModule } from "../modules/build-module.ts";
import { buildRecipe } from "../modules/build-recipe.ts";
import { catalogClient, loadBuiltModule, PublishError, publishModule } from "../modules/publish.ts";
import { loadRecipe, MODULES_DIR, recipePath } from "../modules/recipe.ts";
import { flag, type ParsedArgs } from "./args.ts";

/** Where output goes. */
export interface ModuleCliIo {
  out(line: string): void;
  err(line: string): void;
}

/** Usage of the module group (appended to pnctl's usage). */
export const MODULE_USAGE = `  module build <recipe.json|recipe dir|rootfs dir|rootfs.tar> [--arch amd64|arm64] [--out DIR]
               [--name N --version V --priority P]   (name/version required for a rootfs dir or tar)
  module publish <build dir> [--registry URL] [--description TEXT]   (registry default: the hub URL)
  module ls`;

class UsageError extends Error {}

function token(args: ParsedArgs, env: Record<string, string | undefined>): string {
  const explicit = flag(args, "token") ?? env.POWERNODE_TOKEN;
  if (explicit) return explicit;
  const file = join(env.POWERNODE_DATA || "./var", "admin.token");
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  throw new Error(`no operator token: pass --token, set POWERNODE_TOKEN, or run on the hub host (${file})`);
}

function archFlag(args: ParsedArgs): DebArch {
  const a = flag(args, "arch") ?? "amd64";
  if (a !== "amd64" && a !== "arm64") throw new UsageError(`--arch: "${a}" is not amd64 or arm64`);
  return a;
}

function describe(e: unknown, url: string): string {
  if (e instanceof PublishError || e instanceof UsageError) return e.message;
  if (e instanceof ConnectError) {
    if (e.code === Code.Unauthenticated) return `hub at ${url} rejected the token: ${e.rawMessage}`;
    if (e.code === Code.Unavailable || /ECONNREFUSED|Unable to connect/i.test(e.rawMessage))
      return `cannot reach hub at ${url}: ${e.rawMessage}`;
    return `${Code[e.code] ?? "error"}: ${e.rawMessage}`;
  }
  return e instanceof Error ? e.message : String(e);
}

const kib = (n: number | bigint) => `${(Number(n) / 1024).toFixed(0)} KiB`;

function printBuilt(b: BuiltModule, outDir: string, json: boolean, io: ModuleCliIo): void {
  const m = b.manifest;
  if (json) {
    io.out(JSON.stringify({ outDir, manifest: m }, null, 2));
    return;
  }
  io.out(`built ${m.name} ${m.version} (${m.arch}) in ${outDir}`);
  io.out(
    `  metadata image ${kib(m.sizes.metadata)}, blob image ${kib(m.sizes.blob)}, hash tree ${kib(m.sizes.verity)}`,
  );
  io.out(`  fs-verity digest ${m.metadataDigest}`);
  io.out(`  verity root hash ${m.verityRootHash}`);
}

async function build(args: ParsedArgs, rest: string[], io: ModuleCliIo): Promise<number> {
  const input = rest[0];
  if (!input) throw new UsageError("module build: missing <recipe.json|dir|tar>");
  const path = resolve(input);
  if (!existsSync(path)) throw new UsageError(`module build: ${input} does not exist`);
  const arch = archFlag(args);
  const json = args.flags.has("json");
  const isDir = statSync(path).isDirectory();
  const recipeFile = path.endsWith(".json")
    ? path
    : isDir && existsSync(join(path, "module.json"))
      ? join(path, "module.json")
      : undefined;
  if (recipeFile) {
    const recipe = loadRecipe(recipeFile);
    const outDir = resolve(flag(args, "out") ?? join(MODULES_DIR, ".out", `${recipe.name}-${arch}`));
    const version = flag(args, "version");
    const b = await buildRecipe(version ? { ...recipe, version } : recipe, arch, outDir);
    printBuilt(b, outDir, json, io);
    return 0;
  }
  const name = flag(args, "name");
  const version = flag(args, "version");
  if (!name || !version) throw new UsageError("module build: a rootfs dir or tar needs --name and --version");
  const priority = Number(flag(args, "priority") ?? "10");
  if (!Number.isInteger(priority)) throw new UsageError("--priority: not an integer");
  const outDir = resolve(flag(args, "out") ?? join(MODULES_DIR, ".out", `${name}-${arch}`));
  const b = await buildModule({
    source: isDir ? { dir: path } : { tar: path },
    name,
    version,
    arch,
    priority,
    outDir,
  });
  printBuilt(b, outDir, json, io);
  return 0;
}

/** Runs `pnctl module <verb> ...`; returns the exit code (2 for usage errors). */
export async function runModuleCommand(
  verb: string | undefined,
  rest: string[],
  args: ParsedArgs,
  env: Record<string, string | undefined>,
  io: ModuleCliIo,
): Promise<number> {
  const url = (flag(args, "url") ?? env.POWERNODE_URL ?? "http://127.0.0.1:8080").replace(/\/$/, "");
  const json = args.flags.has("json");
  try {
    switch (verb) {
      case "build":
        return await build(args, rest, io);
      case "publish": {
        const dir = rest[0];
        if (!dir) throw new UsageError("module publish: missing <build dir>");
        const built = loadBuiltModule(resolve(dir));
        const registryUrl = (flag(args, "registry") ?? url).replace(/\/$/, "");
        // A new catalog module takes its description from --description or the in-tree recipe of that name.
        const recipeFile = recipePath(built.manifest.name);
        const description =
          flag(args, "description") ?? (existsSync(recipeFile) ? loadRecipe(recipeFile).description : "");
        const r = await publishModule(built, {
          registryUrl,
          hubUrl: url,
          token: token(args, env),
          description,
        });
        const view = {
          module: built.manifest.name,
          version: built.manifest.version,
          arch: built.manifest.arch,
          reference: `${registryUrl.replace(/^https?:\/\//, "")}/${r.repository}:${r.tag}`,
          ociDigest: r.ociDigest,
          fsverityDigest: r.version.fsverityDigest,
          verityRootHash: r.version.verityRootHash,
          result: r.created ? "published" : "already published (no change)",
        };
        if (json) io.out(JSON.stringify(view, null, 2));
        else for (const [k, v] of Object.entries(view)) io.out(`${`${k}:`.padEnd(16)}${v}`);
        return 0;
      }
      case "ls": {
        const catalog = catalogClient(url, token(args, env));
        const rows: Record<string, string>[] = [];
        for (const mod of (await catalog.listModules({})).modules) {
          const { versions } = await catalog.getModule({ name: mod.name });
          if (versions.length === 0)
            rows.push({
              name: mod.name,
              priority: String(mod.priority),
              version: "-",
              arch: "-",
              fsverityDigest: "-",
              ociDigest: "-",
              metadata: "-",
              blob: "-",
            });
          for (const v of versions) {
            rows.push({
              name: mod.name,
              priority: String(mod.priority),
              version: v.version,
              arch: (Arch[v.arch] ?? "?").toLowerCase(),
              fsverityDigest: v.fsverityDigest,
              ociDigest: v.ociDigest,
              metadata: kib(v.metadataSize),
              blob: kib(v.blobSize),
            });
          }
        }
        if (json) {
          io.out(JSON.stringify(rows, null, 2));
          return 0;
        }
        const table = [
          ["NAME", "PRIO", "VERSION", "ARCH", "METADATA", "BLOB", "FS-VERITY", "OCI"],
          ...rows.map((r) => [
            r.name ?? "",
            r.priority ?? "",
            r.version ?? "",
            r.arch ?? "",
            r.metadata ?? "",
            r.blob ?? "",
            (r.fsverityDigest ?? "").slice(0, 12),
            (r.ociDigest ?? "").slice(0, 19),
          ]),
        ];
        const widths = table[0]?.map((_, i) => Math.max(...table.map((row) => (row[i] ?? "").length))) ?? [];
        for (const row of table)
          io.out(
            row
              .map((c, i) => c.padEnd(widths[i] ?? 0))
              .join("  ")
              .trimEnd(),
          );
        return 0;
      }
      default:
        io.err(`pnctl: unknown command "module ${verb ?? ""}"\n${MODULE_USAGE}`);
        return 2;
    }
  } catch (e) {
    io.err(`pnctl: ${describe(e, url)}`);
    return e instanceof UsageError ? 2 : 1;
  }
}
