/** `pnctl catalog ls`: the catalog's modules (versions: `pnctl module ls`). */
import { CatalogService } from "@powernode/proto";
import { type CommandGroup, table, unknownVerb } from "./shared.ts";

export const catalogCommands: CommandGroup = {
  name: "catalog",
  usage: "  catalog ls",
  async run(ctx) {
    if (ctx.verb !== "ls") return unknownVerb(ctx, catalogCommands);
    const mods = (await ctx.client(CatalogService).listModules({})).modules.map((m) => ({
      name: m.name,
      priority: m.priority,
      description: m.description,
    }));
    ctx.print(mods, () =>
      table([
        ["NAME", "PRIORITY", "DESCRIPTION"],
        ...mods.map((m) => [m.name, String(m.priority), m.description]),
      ]),
    );
    return 0;
  },
};
