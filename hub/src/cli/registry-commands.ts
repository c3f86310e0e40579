/**
 * `pnctl registry add|ls|rm`: OCI registries nodes pull module artifacts from besides the hub. The pull
 * credential's secret is read from `--password-file` or $POWERNODE_REGISTRY_PASSWORD, never from argv.
 */
import { readFileSync } from "node:fs";
import { type Registry, RegistryService } from "@powernode/proto";
import { flag, type ParsedArgs } from "./args.ts";
import { type CommandGroup, required, table, ts, UsageError, unknownVerb } from "./shared.ts";

export const REGISTRY_PASSWORD_ENV = "POWERNODE_REGISTRY_PASSWORD";

/** The secret of `--user` (or a bearer token): `--password-file`, else the environment variable. */
export function registrySecret(
  args: ParsedArgs,
  env: Record<string, string | undefined>,
): string | undefined {
  const file = flag(args, "password-file");
  if (file !== undefined) {
    try {
      return readFileSync(file, "utf8").replace(/\r?\n$/, "");
    } catch (e) {
      throw new UsageError(`--password-file: ${(e as Error).message}`);
    }
  }
  return env[REGISTRY_PASSWORD_ENV] || undefined;
}

function view(r: Registry) {
  return {
    host: r.host,
    url: r.url,
    nodeUrl: r.nodeUrl || r.url,
    mirrorOf: r.mirrorOf,
    priority: r.priority,
    username: r.username,
    credential: r.hasCredential ? (r.username ? "basic" : "token") : "none",
    updatedAt: ts(r.updatedAt),
  };
}

function priorityFlag(args: ParsedArgs): number {
  const p = flag(args, "priority") ?? "0";
  if (!/^-?\d+$/.test(p)) throw new UsageError(`--priority: "${p}" is not an integer`);
  return Number(p);
}

export const registryCommands: CommandGroup = {
  name: "registry",
  usage: `  registry add <url> [--node-url URL] [--mirror-of HOST|hub] [--priority N] [--ca FILE]
               [--user NAME] [--password-file FILE] [--no-credential]
                                  (a registry nodes pull modules from; the pull secret from --password-file
                                   or $${REGISTRY_PASSWORD_ENV}: a password with --user, else a bearer token)
  registry ls
  registry rm <host[:port]>`,
  async run(ctx) {
    const registries = ctx.client(RegistryService);
    switch (ctx.verb) {
      case "add": {
        const url = required(ctx, 0, "url");
        const ca = flag(ctx.args, "ca");
        const r = await registries.putRegistry({
          url,
          nodeUrl: flag(ctx.args, "node-url") ?? "",
          mirrorOf: flag(ctx.args, "mirror-of") ?? "",
          priority: priorityFlag(ctx.args),
          username: flag(ctx.args, "user") ?? "",
          secret: ctx.args.flags.has("no-credential") ? "" : (registrySecret(ctx.args, ctx.env) ?? ""),
          clearCredential: ctx.args.flags.has("no-credential"),
          caPem: ca ? readFileSync(ca, "utf8") : "",
        });
        const v = r.registry ? view(r.registry) : undefined;
        ctx.print({ ...v, created: r.created }, () => [
          `${r.created ? "added" : "updated"} registry ${v?.host} (nodes reach it at ${v?.nodeUrl}; credential: ${v?.credential})`,
        ]);
        return 0;
      }
      case "ls": {
        const rows = (await registries.listRegistries({})).registries.map(view);
        ctx.print(rows, () =>
          table([
            ["HOST", "NODE URL", "MIRROR OF", "PRIORITY", "CREDENTIAL", "UPDATED"],
            ...rows.map((r) => [
              r.host,
              r.nodeUrl,
              r.mirrorOf || "-",
              String(r.priority),
              r.username ? `basic (${r.username})` : r.credential,
              r.updatedAt,
            ]),
          ]),
        );
        return 0;
      }
      case "rm": {
        const host = required(ctx, 0, "host");
        await registries.deleteRegistry({ host });
        ctx.print({ host, deleted: true }, () => [`deleted registry ${host}`]);
        return 0;
      }
      default:
        return unknownVerb(ctx, registryCommands);
    }
  },
};
