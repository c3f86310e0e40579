/**
 * The operator's end of a mesh (`pnctl net join <network>`): a `wg-sdwan-<handle>` interface on this
 * machine, in a network namespace when asked, with the operator's own key and the peers the hub
 * returned (each one's credential verified against the network's constellation key first). The kernel's
 * WireGuard when it has one, else wireguard-go (userspace; Debian's package). The argv plan is pure.
 */
import { generateKeyPairSync } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import type { Exec } from "@powernode/exec";
import { type MeshMembership, type MeshPeer, verifyCredential } from "@powernode/proto";

export interface LinkPlan {
  netns?: string;
  membership: Pick<MeshMembership, "interfaceName" | "address" | "prefix" | "mtu">;
  privateKeyFile: string;
  listenPort?: number;
  peers: readonly Pick<MeshPeer, "publicKey" | "allowedIps" | "endpoints" | "persistentKeepaliveSeconds">[];
}

/** `ip netns exec <ns>` in front of a command when the link lives in a namespace. */
export const inNetns = (netns: string | undefined, argv: string[]): string[] =>
  netns ? ["ip", "netns", "exec", netns, ...argv] : argv;

/** The `wg set` argv: key, port, every peer (first endpoint, keepalive). */
export function wgSetArgv(plan: LinkPlan): string[] {
  const argv = ["wg", "set", plan.membership.interfaceName, "private-key", plan.privateKeyFile];
  if (plan.listenPort) argv.push("listen-port", String(plan.listenPort));
  for (const p of plan.peers) {
    argv.push("peer", p.publicKey, "allowed-ips", p.allowedIps.join(","));
    const endpoint = p.endpoints[0];
    if (endpoint) argv.push("endpoint", endpoint);
    if (p.persistentKeepaliveSeconds > 0)
      argv.push("persistent-keepalive", String(p.persistentKeepaliveSeconds));
  }
  return argv;
}

/** After the interface exists: WireGuard settings, address (prefix length of the network), MTU, up. */
export function configureArgvs(plan: LinkPlan): string[][] {
  const ifname = plan.membership.interfaceName;
  const prefixLength = plan.membership.prefix.split("/")[1] ?? "64";
  return [
    wgSetArgv(plan),
    ["ip", "-6", "addr", "replace", `${plan.membership.address}/${prefixLength}`, "dev", ifname],
    ["ip", "link", "set", ifname, "mtu", String(plan.membership.mtu || 1420), "up"],
  ].map((a) => inNetns(plan.netns, a));
}

/** The peers whose credentials verify (the others with why), as a member's agent would check them. */
export function verifiedPeers(
  peers: readonly MeshPeer[],
  constellationPublicKey: string,
  now: Date,
): { ok: MeshPeer[]; refused: string[] } {
  const ok: MeshPeer[] = [];
  const refused: string[] = [];
  for (const p of peers) {
    const v = p.credential
      ? verifyCredential(p.credential, constellationPublicKey, {
          now,
          expect: { publicKey: p.publicKey, address: p.address },
        })
      : { ok: false as const, reason: "no credential" };
    if (v.ok) ok.push(p);
    else refused.push(`${p.nodeId}: ${v.reason}`);
  }
  return { ok, refused };
}

/** The operator's key for `name` in `network`: made once (key 0600 + its public half), then reused. */
export function operatorKey(
  env: Record<string, string | undefined>,
  network: string,
  name: string,
): { file: string; publicKey: string } {
  const dir = join(
    env.XDG_CONFIG_HOME ?? join(env.HOME ?? homedir(), ".config"),
    "powernode",
    "peers",
    network,
  );
  const file = join(dir, `${name}.key`);
  const pubFile = join(dir, `${name}.pub`);
  if (!existsSync(file) || !existsSync(pubFile)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const { privateKey, publicKey } = generateKeyPairSync("x25519");
    const b64 = (v: string | undefined) => Buffer.from(v ?? "", "base64url").toString("base64");
    writeFileSync(file, `${b64(privateKey.export({ format: "jwk" }).d)}\n`, { mode: 0o600 });
    writeFileSync(pubFile, `${b64(publicKey.export({ format: "jwk" }).x)}\n`);
  }
  return { file, publicKey: readFileSync(pubFile, "utf8").trim() };
}

const UAPI_DIR = "/var/run/wireguard";
const T = { timeoutMs: 15_000 };

/**
 * Brings the link up as planned (replacing an interface of the same name): the namespace if missing,
 * the kernel's WireGuard or wireguard-go, then {@link configureArgvs}. Returns which one it used.
 */
export async function bringUpLink(exec: Exec, plan: LinkPlan): Promise<"kernel" | "wireguard-go"> {
  const run = (argv: string[], allowFailure = false) =>
    exec.run(argv[0] ?? "", argv.slice(1), { ...T, allowFailure });
  const ifname = plan.membership.interfaceName;
  if (plan.netns && !existsSync(join("/run/netns", plan.netns)))
    await run(["ip", "netns", "add", plan.netns]);
  await run(inNetns(plan.netns, ["ip", "link", "del", ifname]), true);
  const kernel = await run(inNetns(plan.netns, ["ip", "link", "add", ifname, "type", "wireguard"]), true);
  let kind: "kernel" | "wireguard-go" = "kernel";
  if (kernel.exitCode !== 0) {
    kind = "wireguard-go";
    const sock = join(UAPI_DIR, `${ifname}.sock`);
    // The UAPI socket directory is shared by every namespace: one wireguard-go per interface name.
    if (existsSync(sock))
      throw new Error(
        `${sock} exists: wireguard-go already runs an interface ${ifname} (in another namespace?); choose another name with --ifname`,
      );
    await run(inNetns(plan.netns, ["wireguard-go", ifname]));
    for (let i = 0; !existsSync(sock); i++) {
      if (i >= 100) throw new Error(`wireguard-go started but ${sock} did not appear within 5 s`);
      await Bun.sleep(50);
    }
  }
  for (const argv of configureArgvs(plan)) await run(argv);
  return kind;
}

/** Removes the interface (wireguard-go exits with it); true when there was one. */
export async function tearDownLink(exec: Exec, netns: string | undefined, ifname: string): Promise<boolean> {
  const r = await exec.run("ip", inNetns(netns, ["ip", "link", "del", ifname]).slice(1), {
    ...T,
    allowFailure: true,
  });
  return r.exitCode === 0;
}
