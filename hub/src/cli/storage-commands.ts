/** `pnctl storage ls|create|show|rm|assign|unassign`: NFS shares over overlay networks. */
import { type Storage, StorageService, StorageShape } from "@powernode/proto";
import { flag } from "./args.ts";
import { type CommandGroup, required, table, ts, UsageError, unknownVerb } from "./shared.ts";

function view(s: Storage) {
  return {
    id: s.id,
    name: s.name,
    shape: s.shape === StorageShape.GATEWAY_PROXY ? "gateway_proxy" : "self_hosted",
    encryption: s.encryption,
    networkId: s.networkId,
    exportHostId: s.exportHostId,
    exportPath: s.exportPath,
    upstream: s.upstreamHost ? `${s.upstreamHost}:${s.upstreamPath}` : "",
    vip: s.vip,
    assignments: s.assignmentCount,
    createdAt: ts(s.createdAt),
  };
}

function shapeFlag(v: string | undefined): StorageShape {
  if (v === undefined || v === "self_hosted") return StorageShape.SELF_HOSTED;
  if (v === "gateway_proxy") return StorageShape.GATEWAY_PROXY;
  throw new UsageError(`--shape: "${v}" is not self_hosted or gateway_proxy`);
}

export const storageCommands: CommandGroup = {
  name: "storage",
  usage: `  storage ls
  storage create <name> --network NET --host NODE --path DIR [--shape self_hosted|gateway_proxy]
               [--encryption none|fscrypt] [--upstream HOST:/PATH [--upstream-options OPTS]]
                                  (a share exported by NODE, or an upstream NODE re-exports as a gateway)
  storage show <name|id>
  storage rm <name|id>
  storage assign <name|id> <client node> --mount DIR [--options OPTS] [--encryption inherit|none]
  storage unassign <name|id> <client node>`,
  async run(ctx) {
    const storage = ctx.client(StorageService);
    switch (ctx.verb) {
      case "ls": {
        const rows = (await storage.listStorages({})).storages.map(view);
        ctx.print(rows, () =>
          table([
            ["NAME", "SHAPE", "EXPORT HOST", "PATH", "VIP", "ENCRYPTION", "CLIENTS"],
            ...rows.map((r) => [
              r.name,
              r.shape,
              r.exportHostId,
              r.exportPath,
              r.vip,
              r.encryption,
              String(r.assignments),
            ]),
          ]),
        );
        return 0;
      }
      case "create": {
        const name = required(ctx, 0, "name");
        const upstream = flag(ctx.args, "upstream") ?? "";
        const colon = upstream.lastIndexOf(":/");
        if (upstream !== "" && colon < 0) throw new UsageError(`--upstream: "${upstream}" is not HOST:/PATH`);
        const r = await storage.createStorage({
          name,
          shape: shapeFlag(flag(ctx.args, "shape") ?? (upstream ? "gateway_proxy" : undefined)),
          network: flag(ctx.args, "network") ?? "",
          exportHostId: flag(ctx.args, "host") ?? "",
          exportPath: flag(ctx.args, "path") ?? "",
          encryption: flag(ctx.args, "encryption") ?? "",
          upstreamHost: upstream ? upstream.slice(0, colon).replace(/^\[|\]$/g, "") : "",
          upstreamPath: upstream ? upstream.slice(colon + 1) : "",
          upstreamOptions: flag(ctx.args, "upstream-options") ?? "",
        });
        const v = r.storage ? view(r.storage) : undefined;
        ctx.print(v, () => [`created storage ${v?.name} (${v?.shape}) at [${v?.vip}]:${v?.exportPath}`]);
        return 0;
      }
      case "show": {
        const r = await storage.getStorage({ storage: required(ctx, 0, "name|id") });
        const v = r.storage ? view(r.storage) : undefined;
        const assignments = r.assignments.map((a) => ({
          clientId: a.clientId,
          mountPath: a.mountPath,
          options: a.options,
          encryption: a.effectiveEncryption,
        }));
        ctx.print({ ...v, assignments }, () => [
          ...Object.entries(v ?? {}).map(([k, x]) => `${`${k}:`.padEnd(14)}${x}`),
          ...table([
            ["CLIENT", "MOUNT", "OPTIONS", "ENCRYPTION"],
            ...assignments.map((a) => [a.clientId, a.mountPath, a.options || "-", a.encryption]),
          ]),
        ]);
        return 0;
      }
      case "rm": {
        const ref = required(ctx, 0, "name|id");
        await storage.deleteStorage({ storage: ref });
        ctx.print({ storage: ref, deleted: true }, () => [`deleted storage ${ref}`]);
        return 0;
      }
      case "assign": {
        const ref = required(ctx, 0, "name|id");
        const client = required(ctx, 1, "client node");
        const r = await storage.assignStorage({
          storage: ref,
          clientId: client,
          mountPath: flag(ctx.args, "mount") ?? "",
          options: flag(ctx.args, "options") ?? "",
          encryption: flag(ctx.args, "encryption") ?? "",
        });
        ctx.print({ ...r.assignment, created: r.created }, () => [
          `${r.created ? "assigned" : "updated"} ${ref} to ${client} at ${r.assignment?.mountPath} (encryption ${r.assignment?.effectiveEncryption})`,
        ]);
        return 0;
      }
      case "unassign": {
        const ref = required(ctx, 0, "name|id");
        const client = required(ctx, 1, "client node");
        await storage.unassignStorage({ storage: ref, clientId: client });
        ctx.print({ storage: ref, clientId: client, unassigned: true }, () => [
          `unassigned ${ref} from ${client}`,
        ]);
        return 0;
      }
      default:
        return unknownVerb(ctx, storageCommands);
    }
  },
};
