/**
 * `pnctl net join NET [--as NAME] [--netns NS] [--ifname IF] [--port N] [--endpoint HOST:PORT]` and
 * `pnctl net leave NET [--as NAME] [--netns NS] [--ifname IF]` without a NODE: this machine as an
 * operator peer.
 */
import { hostname } from "node:os";
import { createExec, type Exec } from "@powernode/exec";
import { NetworkService } from "@powernode/proto";
import { flag } from "./args.ts";
import { bringUpLink, operatorKey, tearDownLink, verifiedPeers } from "./operator-link.ts";
import { type CommandContext, fields, required, UsageError } from "./shared.ts";

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** The peer's name: --as, else this machine's host name made a DNS label. */
function peerName(ctx: CommandContext): string {
  const name =
    flag(ctx.args, "as") ??
    hostname()
      .toLowerCase()
      .replace(/[^a-z0-9-]/g, "-")
      .replace(/^-+|-+$/g, "")
      .slice(0, 63);
  if (!LABEL.test(name)) throw new UsageError(`net join: --as "${name}" must be a DNS label (a-z, 0-9, '-')`);
  return name;
}

/** --ifname: a local interface name other than wg-sdwan-<handle> (peers never see it). */
function interfaceFlag(ctx: CommandContext): string | undefined {
  const v = flag(ctx.args, "ifname");
  if (v !== undefined && !/^[A-Za-z0-9_.-]{1,15}$/.test(v))
    throw new UsageError(`net join: --ifname "${v}" must be 1-15 of A-Z, a-z, 0-9, '_', '.', '-'`);
  return v;
}

export async function joinAsOperator(ctx: CommandContext, exec: Exec = createExec()): Promise<number> {
  const network = required(ctx, 0, "NET");
  const name = peerName(ctx);
  const netns = flag(ctx.args, "netns");
  const portText = flag(ctx.args, "port");
  const listenPort = portText === undefined ? undefined : Number(portText);
  if (listenPort !== undefined && !(Number.isInteger(listenPort) && listenPort > 0 && listenPort < 65536))
    throw new UsageError(`net join: --port must be 1 to 65535, not "${portText}"`);
  const endpoint = flag(ctx.args, "endpoint");
  const key = operatorKey(ctx.env, network, name);
  const r = await ctx.client(NetworkService).joinOperatorPeer({
    network,
    name,
    publicKey: key.publicKey,
    endpoints: endpoint ? [endpoint] : [],
  });
  const membership = r.membership;
  if (!membership) throw new Error("the hub returned no membership");
  const { ok, refused } = verifiedPeers(r.peers, membership.constellationPublicKey, new Date());
  for (const why of refused) ctx.io.err(`pnctl: net join: peer not configured: ${why}`);
  const ifname = interfaceFlag(ctx) ?? membership.interfaceName;
  const kind = await bringUpLink(exec, {
    ...(netns ? { netns } : {}),
    membership: { ...membership, interfaceName: ifname },
    privateKeyFile: key.file,
    ...(listenPort ? { listenPort } : {}),
    peers: ok,
  });
  const view = {
    name,
    address: membership.address,
    interface: ifname,
    netns: netns ?? "",
    wireguard: kind,
    peers: ok.length,
    publicKey: key.publicKey,
  };
  ctx.print(view, () => fields(view));
  return 0;
}

export async function leaveAsOperator(ctx: CommandContext, exec: Exec = createExec()): Promise<number> {
  const network = required(ctx, 0, "NET");
  const name = peerName(ctx);
  const netns = flag(ctx.args, "netns");
  const net = ctx.client(NetworkService);
  const n = (await net.getNetwork({ network })).network;
  await net.leaveOperatorPeer({ network, name });
  const ifname = interfaceFlag(ctx) ?? (n ? `wg-sdwan-${n.handle}` : undefined);
  const removed = ifname ? await tearDownLink(exec, netns, ifname) : false;
  ctx.print({ left: network, name, interfaceRemoved: removed }, () => [
    `${name} left ${network}${removed ? "; interface removed" : ""}`,
  ]);
  return 0;
}
