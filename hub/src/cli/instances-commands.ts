/** `pnctl instances ls|create|start|stop|delete|token`. */
import { Arch, ProvisionService } from "@powernode/proto";
import { flag } from "./args.ts";
import { moduleRefsOf } from "./module-refs.ts";
import {
  archName,
  type CommandGroup,
  fields,
  required,
  stateName,
  table,
  ts,
  UsageError,
  unknownVerb,
} from "./shared.ts";

export const instancesCommands: CommandGroup = {
  name: "instances",
  usage: `  instances ls
  instances create --name NAME --arch amd64|arm64 [--provider qemu|none] [--memory MIB] [--vcpus N] [--start]
                   [--persistent] [--template NAME]
  instances start|stop|delete <id>
  instances token <id>            (a fresh bootstrap token, 1 hour)
  instances assign <id> [<module>[@<version>]...]   (the node's own modules, on top of its template's;
                                  none: only the template's; --env and --env-file as for templates)`,
  async run(ctx) {
    const prov = ctx.client(ProvisionService);
    switch (ctx.verb) {
      case "ls": {
        const list = (await prov.listInstances({})).instances.map((i) => ({
          id: i.id,
          name: i.name,
          arch: archName(i.arch),
          state: stateName(i.state),
          provider: i.provider,
        }));
        ctx.print(list, () =>
          table([
            ["ID", "NAME", "ARCH", "STATE", "PROVIDER"],
            ...list.map((i) => [i.id, i.name, i.arch, i.state, i.provider]),
          ]),
        );
        return 0;
      }
      case "create": {
        const name = flag(ctx.args, "name");
        if (!name) throw new UsageError("instances create: --name is required");
        const a = flag(ctx.args, "arch");
        const arch = a === "amd64" ? Arch.AMD64 : a === "arm64" ? Arch.ARM64 : undefined;
        if (arch === undefined) throw new UsageError("instances create: --arch must be amd64 or arm64");
        const r = await prov.createInstance({
          name,
          arch,
          provider: flag(ctx.args, "provider") ?? "",
          memoryMib: Number(flag(ctx.args, "memory") ?? 0),
          vcpus: Number(flag(ctx.args, "vcpus") ?? 0),
          start: ctx.args.flags.has("start"),
          persistent: ctx.args.flags.has("persistent"),
          network: flag(ctx.args, "network") ?? "",
          template: flag(ctx.args, "template") ?? "",
        });
        const i = r.instance;
        const view = {
          id: i?.id ?? "",
          name: i?.name ?? "",
          state: i ? stateName(i.state) : "",
          provider: i?.provider ?? "",
          bootstrapToken: r.bootstrapToken,
          tokenExpiresAt: r.tokenExpiresAt ? ts(r.tokenExpiresAt) : "",
        };
        ctx.print(view, () => fields(Object.fromEntries(Object.entries(view).filter(([, v]) => v !== ""))));
        return 0;
      }
      case "token": {
        const t = await prov.issueBootstrapToken({ instanceId: required(ctx, 0, "id") });
        const view = { bootstrapToken: t.bootstrapToken, expiresAt: ts(t.expiresAt) };
        ctx.print(view, () => fields(view));
        return 0;
      }
      case "delete": {
        const id = required(ctx, 0, "id");
        await prov.deleteInstance({ id });
        ctx.print({ id, state: "deleted" }, () => [`${id} deleted`]);
        return 0;
      }
      case "start":
      case "stop": {
        const id = required(ctx, 0, "id");
        const r = ctx.verb === "start" ? await prov.startInstance({ id }) : await prov.stopInstance({ id });
        const state = r.instance ? stateName(r.instance.state) : "";
        ctx.print({ id, state }, () => [`${id} ${state}`]);
        return 0;
      }
      case "assign": {
        const id = required(ctx, 0, "id");
        const modules = moduleRefsOf(ctx.rest.slice(1), ctx.args);
        const r = await prov.assignModules({ instanceId: id, modules });
        const assigned = r.modules.map((m) => ({
          name: m.name,
          version: m.version,
          ociReference: m.ociReference,
        }));
        ctx.print({ id, desiredVersion: Number(r.desiredVersion), modules: assigned }, () => [
          `${id}: desired version ${r.desiredVersion}, modules ${assigned.map((m) => `${m.name} ${m.version}`).join(", ") || "none"}`,
        ]);
        return 0;
      }
      default:
        return unknownVerb(ctx, instancesCommands);
    }
  },
};
