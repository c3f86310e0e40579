/**
 * pnctl module commands: `module build`, `module publish`, `module ls`. Building needs no hub and no
 * token; publishing and listing use the operator token.
 */
import { existsSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import type { DebArch } from "@powernode/debian";
import type { RegistryCredential } from "@powernode/oci";
import { Arch } from "@powernode/proto";
import { type BuiltModule, buildModule } from "../modules/build-module.ts";
import { buildRecipe } from "../modules/build-recipe.ts";
import { buildHubModule, HUB_MODULE_NAME } from "../modules/hub-module/hub-module.ts";
import { buildK3sModule, K3S_BINARY_ENV, K3S_MODULE_NAME } from "../modules/k3s-module.ts";
import { catalogClient, loadBuiltModule, publishModule } from "../modules/publish.ts";
import { loadRecipe, MODULES_DIR, recipePath } from "../modules/recipe.ts";
import { flag, type ParsedArgs } from "./args.ts";
import { registrySecret } from "./registry-commands.ts";
import {
  type CliIo,
  type CommandContext,
  type CommandGroup,
  table,
  UsageError,
  unknownVerb,
} from "./shared.ts";

const USAGE = `  module build <recipe.json|recipe dir|rootfs dir|rootfs.tar> [--arch amd64|arm64] [--out DIR]
               [--name N --version V --priority P]   (name/version required for a rootfs dir or tar)
  module build k3s [--arch amd64|arm64] [--out DIR] [--version V]   (the binary: $POWERNODE_K3S_BINARY)
  module build powernode-hub --binary FILE [--arch amd64|arm64] [--out DIR] [--version V]
               (FILE: bun initramfs/hub-build.ts --arch A; the hub on a node, docs/federation.md)
  module publish <build dir> [--registry URL [--user NAME] [--password-file FILE] [--no-hub-copy]]
               [--description TEXT]   (default: the hub's registry; another registry must be known to the hub
               (registry add) and gets the push credential from --user and --password-file or
               $POWERNODE_REGISTRY_PASSWORD; the hub keeps a copy as the nodes' fallback unless --no-hub-copy)
  module ls`;

function archFlag(args: ParsedArgs): DebArch {
  const a = flag(args, "arch") ?? "amd64";
  if (a !== "amd64" && a !== "arm64") throw new UsageError(`--arch: "${a}" is not amd64 or arm64`);
  return a;
}

const kib = (n: number | bigint) => `${(Number(n) / 1024).toFixed(0)} KiB`;

function printBuilt(b: BuiltModule, outDir: string, json: boolean, io: CliIo): void {
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

async function build(
  args: ParsedArgs,
  rest: string[],
  io: CliIo,
  env: Record<string, string | undefined>,
): Promise<number> {
  const input = rest[0];
  if (!input) throw new UsageError("module build: missing <recipe.json|dir|tar>");
  const arch = archFlag(args);
  const json = args.flags.has("json");
  if (input === HUB_MODULE_NAME) {
    // The hub itself, compiled by `bun initramfs/hub-build.ts` (decision 0040).
    const binary = flag(args, "binary");
    if (!binary) throw new UsageError("module build powernode-hub: --binary <compiled hub> is required");
    const outDir = resolve(flag(args, "out") ?? join(MODULES_DIR, ".out", `${HUB_MODULE_NAME}-${arch}`));
    const version = flag(args, "version");
    const b = await buildHubModule({ binary, arch, outDir, ...(version ? { version } : {}) });
    printBuilt(b, outDir, json, io);
    return 0;
  }
  if (input === K3S_MODULE_NAME) {
    // No package ships k3s: the module is built from the upstream binary the environment names.
    const outDir = resolve(flag(args, "out") ?? join(MODULES_DIR, ".out", `k3s-${arch}`));
    const version = flag(args, "version");
    const b = await buildK3sModule({
      binary: env[K3S_BINARY_ENV],
      arch,
      outDir,
      ...(version ? { version } : {}),
    });
    printBuilt(b, outDir, json, io);
    return 0;
  }
  const path = resolve(input);
  if (!existsSync(path)) throw new UsageError(`module build: ${input} does not exist`);
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

async function publish(ctx: CommandContext): Promise<number> {
  const { args, url } = ctx;
  const dir = ctx.rest[0];
  if (!dir) throw new UsageError("module publish: missing <build dir>");
  const built = loadBuiltModule(resolve(dir));
  const registryUrl = (flag(args, "registry") ?? url).replace(/\/$/, "");
  // A new catalog module takes its description from --description or the in-tree recipe of that name.
  const recipeFile = recipePath(built.manifest.name);
  const description =
    flag(args, "description") ?? (existsSync(recipeFile) ? loadRecipe(recipeFile).description : "");
  const user = flag(args, "user");
  const secret = registrySecret(args, ctx.env);
  const registryCredential: RegistryCredential | undefined =
    secret === undefined
      ? undefined
      : user
        ? { kind: "basic", username: user, password: secret }
        : { kind: "bearer", token: secret };
  const r = await publishModule(built, {
    registryUrl,
    hubUrl: url,
    hubCa: ctx.ca(),
    token: ctx.token(),
    description,
    registryCredential,
    hubCopy: !args.flags.has("no-hub-copy"),
  });
  const view = {
    module: built.manifest.name,
    version: built.manifest.version,
    arch: built.manifest.arch,
    reference: `${registryUrl.replace(/^https?:\/\//, "")}/${r.repository}:${r.tag}`,
    ociDigest: r.ociDigest,
    origin: r.origin || "hub",
    hubCopy: r.hubCopy,
    fsverityDigest: r.version.fsverityDigest,
    verityRootHash: r.version.verityRootHash,
    result: r.created ? "published" : "already published (no change)",
  };
  ctx.print(view, () => Object.entries(view).map(([k, v]) => `${`${k}:`.padEnd(16)}${v}`));
  return 0;
}

async function list(ctx: CommandContext): Promise<number> {
  const catalog = catalogClient(ctx.url, ctx.token(), ctx.ca());
  const rows: Record<string, string>[] = [];
  for (const mod of (await catalog.listModules({})).modules) {
    const { versions } = await catalog.getModule({ name: mod.name });
    const none = { version: "-", arch: "-", fsverityDigest: "-", ociDigest: "-", metadata: "-", blob: "-" };
    if (versions.length === 0) rows.push({ name: mod.name, priority: String(mod.priority), ...none });
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
  ctx.print(rows, () =>
    table([
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
    ]).map((l) => l.trimEnd()),
  );
  return 0;
}

export const moduleCommands: CommandGroup = {
  name: "module",
  usage: USAGE,
  async run(ctx) {
    switch (ctx.verb) {
      case "build":
        return build(ctx.args, ctx.rest, ctx.io, ctx.env);
      case "publish":
        return publish(ctx);
      case "ls":
        return list(ctx);
      default:
        return unknownVerb(ctx, moduleCommands);
    }
  },
};
