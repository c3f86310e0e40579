/**
 * `pnctl claims ls|confirm|reject`: unknown hardware in claim mode. A device prints its claim code on
 * its console; `confirm <code> --template T` creates its instance and binds it, `reject <code>` refuses it.
 */
import { Arch, type ClaimedDevice, ClaimService } from "@powernode/proto";
import { flag } from "./args.ts";
import { type CommandGroup, required, table, ts, unknownVerb } from "./shared.ts";

function view(d: ClaimedDevice) {
  const f = d.facts;
  return {
    id: d.id,
    claimCode: d.claimCode,
    status: d.status,
    macs: f?.macs ?? [],
    dmiUuid: f?.dmiUuid ?? "",
    serial: f?.serial ?? "",
    arch: f?.arch === Arch.ARM64 ? "arm64" : "amd64",
    platformHint: f?.platformHint ?? "",
    model: f?.model ?? "",
    cpus: f?.cpus ?? 0,
    memoryMib: f?.memoryMib ?? 0,
    sourceAddress: d.sourceAddress,
    createdAt: ts(d.createdAt),
    expiresAt: ts(d.expiresAt),
    instanceId: d.instanceId,
    rejectReason: d.rejectReason,
  };
}

export const claimsCommands: CommandGroup = {
  name: "claims",
  usage: `  claims ls [--all]             (devices in claim mode: their code, MACs, DMI UUID, platform)
  claims confirm <code> [--template T] [--name N] | [--instance ID]
                                  (creates the device's instance, or binds the one made for it
                                   beforehand with --instance; the device enrolls)
  claims reject <code> [--reason TEXT]`,
  async run(ctx) {
    const claims = ctx.client(ClaimService);
    switch (ctx.verb) {
      case "ls": {
        const rows = (await claims.listClaims({ all: ctx.args.flags.has("all") })).devices.map(view);
        ctx.print(rows, () =>
          table([
            [
              "CODE",
              "STATUS",
              "MAC",
              "DMI UUID / SERIAL",
              "PLATFORM",
              "CPUS",
              "MEMORY",
              "FROM",
              "EXPIRES",
              "INSTANCE",
            ],
            ...rows.map((r) => [
              r.claimCode,
              r.status,
              r.macs[0] ?? "-",
              r.dmiUuid || r.serial || "-",
              `${r.platformHint || "-"} ${r.arch}`,
              String(r.cpus),
              `${r.memoryMib} MiB`,
              r.sourceAddress,
              r.expiresAt,
              r.instanceId || "-",
            ]),
          ]),
        );
        return 0;
      }
      case "confirm": {
        const code = required(ctx, 0, "code");
        const r = await claims.confirmClaim({
          claimCode: code,
          template: flag(ctx.args, "template") ?? "",
          name: flag(ctx.args, "name") ?? "",
          instanceId: flag(ctx.args, "instance") ?? "",
        });
        const v = r.device ? view(r.device) : undefined;
        ctx.print({ device: v, instance: { id: r.instance?.id, name: r.instance?.name } }, () => [
          `claimed ${v?.claimCode}: instance ${r.instance?.name} (${r.instance?.id}); the device enrolls at its next poll`,
        ]);
        return 0;
      }
      case "reject": {
        const code = required(ctx, 0, "code");
        const r = await claims.rejectClaim({ claimCode: code, reason: flag(ctx.args, "reason") ?? "" });
        const v = r.device ? view(r.device) : undefined;
        ctx.print(v, () => [`rejected ${v?.claimCode}`]);
        return 0;
      }
      default:
        return unknownVerb(ctx, claimsCommands);
    }
  },
};
