/** `pnctl ca get [--out FILE]`: the hub's CA certificate (what TLS clients of the hub trust). */
import { writeFileSync } from "node:fs";
import { FleetService } from "@powernode/proto";
import { flag } from "./args.ts";
import { type CommandGroup, unknownVerb } from "./shared.ts";

export const caCommands: CommandGroup = {
  name: "ca",
  usage: "  ca get [--out FILE]             (the hub's CA certificate, PEM: for --cacert of TLS clients)",
  async run(ctx) {
    if (ctx.verb !== "get") return unknownVerb(ctx, caCommands);
    const { caPem } = await ctx.client(FleetService).getCaCertificate({});
    const out = flag(ctx.args, "out");
    if (out) {
      writeFileSync(out, caPem);
      ctx.print({ path: out }, () => [`wrote ${out}`]);
    } else ctx.print({ caPem }, () => [caPem.trimEnd()]);
    return 0;
  },
};
