/** `pnctl templates ls|create`: named module sets instances are created from. */
import { ProvisionService } from "@powernode/proto";
import { moduleRefsOf } from "./module-refs.ts";
import { type CommandGroup, required, table, ts, unknownVerb } from "./shared.ts";

export const templatesCommands: CommandGroup = {
  name: "templates",
  usage: `  templates ls
  templates create <name> <module>[@<version>]... [--env <module>.<NAME>=<value>]...
                   [--env-file <module>=<file>]...   (environment for that module's services)`,
  async run(ctx) {
    const prov = ctx.client(ProvisionService);
    switch (ctx.verb) {
      case "ls": {
        const list = (await prov.listTemplates({})).templates.map((t) => ({
          id: t.id,
          name: t.name,
          modules: t.modules.map((m) => ({
            name: m.name,
            version: m.version,
            env: Object.keys(m.env).sort(),
          })),
          createdAt: t.createdAt ? ts(t.createdAt) : "",
        }));
        ctx.print(list, () =>
          table([
            ["NAME", "MODULES", "CREATED"],
            ...list.map((t) => [
              t.name,
              t.modules
                .map(
                  (m) =>
                    `${m.name}${m.version ? `@${m.version}` : ""}${m.env.length ? ` (env ${m.env.join(" ")})` : ""}`,
                )
                .join(", "),
              t.createdAt,
            ]),
          ]),
        );
        return 0;
      }
      case "create": {
        const name = required(ctx, 0, "name");
        const modules = moduleRefsOf(ctx.rest.slice(1), ctx.args);
        const t = (await prov.createTemplate({ name, modules })).template;
        const view = { id: t?.id ?? "", name: t?.name ?? name, modules: modules.map((m) => m.name) };
        ctx.print(view, () => [`template ${view.name} (${view.id}): ${view.modules.join(", ")}`]);
        return 0;
      }
      default:
        return unknownVerb(ctx, templatesCommands);
    }
  },
};
