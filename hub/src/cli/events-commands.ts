/** `pnctl events ls|watch`. */
import { type FleetEvent, FleetService } from "@powernode/proto";
import { flag } from "./args.ts";
import { type CommandGroup, sevName, ts, UsageError, unknownVerb } from "./shared.ts";

function view(e: FleetEvent) {
  return {
    createdAt: ts(e.createdAt),
    severity: sevName(e.severity),
    kind: e.kind,
    nodeId: e.nodeId,
    correlationId: e.correlationId,
    payload: e.payload ?? {},
  };
}

const line = (v: ReturnType<typeof view>) =>
  `${v.createdAt}  ${v.severity.padEnd(8)}  ${v.kind}  ${v.nodeId || "-"}  ${JSON.stringify(v.payload)}`;

export const eventsCommands: CommandGroup = {
  name: "events",
  usage: `  events ls [--kind PREFIX] [--node ID] [--limit N] [--page TOKEN]   (TOKEN: printed when older events exist)
  events watch [--kind PREFIX] [--node ID]`,
  async run(ctx) {
    const fleet = ctx.client(FleetService);
    const filter = { kindPrefix: flag(ctx.args, "kind") ?? "", nodeId: flag(ctx.args, "node") ?? "" };
    switch (ctx.verb) {
      case "ls": {
        const limit = Number(flag(ctx.args, "limit") ?? 100);
        if (!Number.isInteger(limit) || limit < 1) throw new UsageError("--limit: a positive integer");
        const page = await fleet.listEvents({ ...filter, limit, pageToken: flag(ctx.args, "page") ?? "" });
        const evs = page.events.map(view);
        // --json stays the array of events; the text form says how to get older ones.
        ctx.print(evs, () => [
          ...evs.map(line),
          ...(page.nextPageToken ? [`(older events: --page ${page.nextPageToken})`] : []),
        ]);
        return 0;
      }
      case "watch": {
        for await (const r of fleet.watchEvents(filter, { signal: ctx.signal })) {
          if (!r.event) continue;
          const { correlationId: _c, ...v } = view(r.event);
          ctx.io.out(ctx.json ? JSON.stringify(v) : line({ ...v, correlationId: "" }));
        }
        return 0;
      }
      default:
        return unknownVerb(ctx, eventsCommands);
    }
  },
};
