/**
 * `pnctl federation propose|accept|ls|show|revoke|fleet|catalog`: peerings with other hubs. The
 * acceptance token is a secret: `accept` reads it from `--token-file` or $POWERNODE_FEDERATION_TOKEN,
 * never from argv; `propose` prints it once (or writes it to `--token-out FILE`, mode 0600).
 */
import { readFileSync, writeFileSync } from "node:fs";
import {
  type FederationPeer,
  FederationService,
  type MemberSlot,
  PeerRole,
  PeerState,
} from "@powernode/proto";
import { flag } from "./args.ts";
import {
  type CommandContext,
  type CommandGroup,
  fields,
  required,
  table,
  ts,
  UsageError,
  unknownVerb,
} from "./shared.ts";

export const FEDERATION_TOKEN_ENV = "POWERNODE_FEDERATION_TOKEN";

function view(p: FederationPeer) {
  return {
    id: p.id,
    name: p.name,
    role: (PeerRole[p.role] ?? String(p.role)).toLowerCase(),
    state: (PeerState[p.state] ?? String(p.state)).toLowerCase(),
    remoteUrl: p.remoteUrl,
    remoteHubName: p.remoteHubName,
    remoteCaSha256: p.remoteCaSha256,
    issuedSerial: p.issuedSerial,
    tokenExpiresAt: ts(p.tokenExpiresAt),
    acceptedAt: ts(p.acceptedAt),
    revokedAt: ts(p.revokedAt),
    revokedReason: p.revokedReason,
    lastSeenAt: ts(p.lastSeenAt),
  };
}

function slotView(s: MemberSlot | undefined) {
  return {
    slot: s?.slot ?? "",
    streaming: s?.streaming ?? false,
    synchronous: s?.synchronous ?? false,
    lagBytes: Number(s?.lagBytes ?? 0n),
    lagSeconds: s?.lagSeconds ?? 0,
  };
}

function acceptanceToken(ctx: CommandContext): string {
  const file = flag(ctx.args, "token-file");
  if (file !== undefined) {
    try {
      return readFileSync(file, "utf8").trim();
    } catch (e) {
      throw new UsageError(`--token-file: ${(e as Error).message}`);
    }
  }
  const env = ctx.env[FEDERATION_TOKEN_ENV];
  if (!env)
    throw new UsageError(`the acceptance token: pass --token-file FILE or set $${FEDERATION_TOKEN_ENV}`);
  return env.trim();
}

export const federationCommands: CommandGroup = {
  name: "federation",
  usage: `  federation propose <name> <peer-url> [--local-url URL] [--token-out FILE]
                                  (a peering with the hub whose TLS listener is <peer-url>; prints the
                                   single-use acceptance token, valid 7 days, for that hub's operator)
  federation accept [--name NAME] [--local-url URL] [--token-file FILE]
                                  (accept another hub's token, from --token-file or $${FEDERATION_TOKEN_ENV})
  federation ls
  federation show <peer>
  federation revoke <peer> [--reason TEXT]
  federation fleet <peer>          (the peer's fleet summary, over mutual TLS)
  federation catalog <peer>        (the peer's module catalog, over mutual TLS)
  federation member-slot <slot> [--synchronous]
                                  (a replication slot on this hub's PostgreSQL for a cluster member;
                                   prints the member's pg_basebackup arguments)
  federation member-slots          (each slot with the member's lag)`,
  async run(ctx) {
    const fed = ctx.client(FederationService);
    switch (ctx.verb) {
      case "propose": {
        const name = required(ctx, 0, "name");
        const remoteUrl = required(ctx, 1, "peer-url");
        const r = await fed.proposePeering({ name, remoteUrl, localUrl: flag(ctx.args, "local-url") ?? "" });
        const out = flag(ctx.args, "token-out");
        if (out) writeFileSync(out, `${r.acceptanceToken}\n`, { mode: 0o600 });
        const v = r.peer ? view(r.peer) : undefined;
        ctx.print({ peer: v, acceptanceToken: out ? undefined : r.acceptanceToken, tokenFile: out }, () => [
          `proposed peering ${v?.name} with ${v?.remoteUrl} (token valid until ${v?.tokenExpiresAt})`,
          out ? `acceptance token written to ${out}` : `acceptance token (shown once): ${r.acceptanceToken}`,
        ]);
        return 0;
      }
      case "accept": {
        const r = await fed.acceptPeering({
          token: acceptanceToken(ctx),
          name: flag(ctx.args, "name") ?? "",
          localUrl: flag(ctx.args, "local-url") ?? "",
        });
        const v = r.peer ? view(r.peer) : undefined;
        ctx.print(v, () => [`peering ${v?.name} with ${v?.remoteUrl} is ${v?.state}`]);
        return 0;
      }
      case "ls": {
        const rows = (await fed.listPeers({})).peers.map(view);
        ctx.print(rows, () =>
          table([
            ["NAME", "ROLE", "STATE", "REMOTE URL", "LAST SEEN"],
            ...rows.map((p) => [p.name, p.role, p.state, p.remoteUrl, p.lastSeenAt]),
          ]),
        );
        return 0;
      }
      case "show": {
        const r = await fed.getPeer({ peer: required(ctx, 0, "peer") });
        const v = r.peer ? view(r.peer) : {};
        ctx.print(v, () => fields(v));
        return 0;
      }
      case "revoke": {
        const r = await fed.revokePeer({
          peer: required(ctx, 0, "peer"),
          reason: flag(ctx.args, "reason") ?? "",
        });
        const v = r.peer ? view(r.peer) : undefined;
        ctx.print({ ...v, peerNotified: r.peerNotified }, () => [
          `revoked peer ${v?.name}${r.peerNotified ? " (the peer was told)" : " (the peer could not be told; it is refused on its next call)"}`,
        ]);
        return 0;
      }
      case "fleet": {
        const s = (await fed.getPeerFleetSummary({ peer: required(ctx, 0, "peer") })).summary;
        const v = {
          hubName: s?.hubName ?? "",
          nodesTotal: s?.nodesTotal ?? 0,
          nodesHeartbeating: s?.nodesHeartbeating ?? 0,
          nodesByState: s?.nodesByState ?? {},
          modulesTotal: s?.modulesTotal ?? 0,
        };
        ctx.print(v, () => fields({ ...v, nodesByState: JSON.stringify(v.nodesByState) }));
        return 0;
      }
      case "catalog": {
        const rows = (await fed.listPeerCatalog({ peer: required(ctx, 0, "peer") })).entries.map((e) => ({
          module: e.module,
          version: e.version,
          arch: e.arch,
          fsverityDigest: e.fsverityDigest,
        }));
        ctx.print(rows, () =>
          table([
            ["MODULE", "VERSION", "ARCH", "FS-VERITY"],
            ...rows.map((e) => [e.module, e.version, e.arch, e.fsverityDigest]),
          ]),
        );
        return 0;
      }
      case "member-slot": {
        const r = await fed.createMemberSlot({
          slot: required(ctx, 0, "slot"),
          synchronous: ctx.args.flags.has("synchronous"),
        });
        const v = { ...slotView(r.slot), created: r.created, basebackupArgs: r.basebackupArgs };
        ctx.print(v, () => [
          `${r.created ? "created" : "kept"} slot ${v.slot}${v.synchronous ? " (synchronous)" : ""}`,
          `on the member: pg_basebackup ${r.basebackupArgs.join(" ")}`,
        ]);
        return 0;
      }
      case "member-slots": {
        const rows = (await fed.listMemberSlots({})).slots.map(slotView);
        ctx.print(rows, () =>
          table([
            ["SLOT", "STREAMING", "SYNCHRONOUS", "LAG BYTES", "LAG SECONDS"],
            ...rows.map((r) => [
              r.slot,
              String(r.streaming),
              String(r.synchronous),
              String(r.lagBytes),
              r.lagSeconds.toFixed(3),
            ]),
          ]),
        );
        return 0;
      }
      default:
        return unknownVerb(ctx, federationCommands);
    }
  },
};
