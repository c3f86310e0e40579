/**
 * WireGuard interfaces with wireguard-tools' `wg` and busybox `ip` (decision 0011). Keys are made here
 * (X25519, node:crypto) and kept in a 0600 file that `wg set ... private-key <file>` reads: the private
 * key is never in argv, never returned by {@link parseWgDump}, never sent anywhere. Argument builders
 * and parsers are pure; {@link createWireguard} runs them through the injected {@link Exec}.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Exec } from "./exec.ts";
import { createFileExclusive } from "./files.ts";
import { canonicalIp, parseCidr } from "./ip-address.ts";
import { assertIfaceName } from "./net.ts";

/** `wg` in the node image (wireguard-tools from bookworm; `/usr/bin` links to `/bin` there). */
export const WG_BIN = "/usr/bin/wg";

/** A WireGuard key pair: base64 of the raw 32 bytes each, as `wg genkey | wg pubkey` print them. */
export interface WgKeyPair {
  privateKey: string;
  publicKey: string;
}

/** The raw 32 bytes of a base64 WireGuard key; throws (without the value) when it is not one. */
export function parseWgKey(b64: string, what = "wireguard key"): Buffer {
  const raw = Buffer.from(b64, "base64");
  if (raw.length !== 32 || raw.toString("base64") !== b64)
    throw new Error(`${what}: expected base64 of 32 bytes`);
  return raw;
}

/** PKCS#8 DER header of an X25519 private key (RFC 8410); the raw 32 bytes follow. */
const X25519_PKCS8 = Buffer.from("302e020100300506032b656e04220420", "hex");

/**
 * A fresh key pair (X25519 from node:crypto, raw bytes from the JWK `d`/`x`). The private scalar is
 * clamped as `wg genkey` does (the kernel clamps it anyway; the public key is the same either way).
 */
export function generateWgKeyPair(): WgKeyPair {
  const d = generateKeyPairSync("x25519").privateKey.export({ format: "jwk" }).d;
  if (!d) throw new Error("x25519: no private key in the JWK");
  const raw = Buffer.from(d, "base64url");
  raw[0] = (raw[0] as number) & 248;
  raw[31] = ((raw[31] as number) & 127) | 64;
  const privateKey = raw.toString("base64");
  return { privateKey, publicKey: wgPublicKeyOf(privateKey) };
}

/** The public key of a base64 private key (what `wg pubkey` prints). */
export function wgPublicKeyOf(privateKeyB64: string): string {
  const raw = parseWgKey(privateKeyB64, "wireguard private key");
  const key = createPrivateKey({ key: Buffer.concat([X25519_PKCS8, raw]), format: "der", type: "pkcs8" });
  const x = createPublicKey(key).export({ format: "jwk" }).x;
  if (!x) throw new Error("x25519: no public key in the JWK");
  return Buffer.from(x, "base64url").toString("base64");
}

/** A key file made by {@link loadOrCreateWgKey}. */
export interface WgKeyFile {
  privateKeyFile: string;
  publicKey: string;
}

/**
 * The key in `<dir>/<name>.key` (base64, as `wg genkey` writes it), created once with a fresh key
 * (file 0600, dir 0700) and never replaced; a looser mode found on either is tightened.
 */
export function loadOrCreateWgKey(dir: string, name: string): WgKeyFile {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name))
    throw new Error(`wireguard key name ${JSON.stringify(name)}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if ((statSync(dir).mode & 0o077) !== 0) chmodSync(dir, 0o700);
  const path = join(dir, `${name}.key`);
  if (!existsSync(path)) createFileExclusive(path, `${generateWgKeyPair().privateKey}\n`, 0o600);
  if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
  try {
    return { privateKeyFile: path, publicKey: wgPublicKeyOf(readFileSync(path, "utf8").trim()) };
  } catch (cause) {
    throw new Error(`reading the wireguard key ${path}`, { cause });
  }
}

function assertPort(port: number, what: string): number {
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`${what} ${port}: expected 0..65535`);
  return port;
}

/** `host:port`, `[v6]:port` or `name:port`; one argv word with no separators wg would split on. */
function assertEndpoint(endpoint: string): string {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})$/.exec(endpoint);
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) throw new Error(`endpoint ${JSON.stringify(endpoint)}`);
  return endpoint;
}

export const linkAddArgs = (iface: string) => ["link", "add", assertIfaceName(iface), "type", "wireguard"];
export const linkDelArgs = (iface: string) => ["link", "del", assertIfaceName(iface)];
export const linkUpArgs = (iface: string, mtu: number) => {
  if (!Number.isInteger(mtu) || mtu < 1280 || mtu > 65535)
    throw new Error(`mtu ${mtu}: expected 1280..65535`);
  return ["link", "set", "dev", assertIfaceName(iface), "mtu", String(mtu), "up"];
};
/** The node's /128 given with the network's length, so the kernel routes the whole prefix here. */
export const addrAddArgs = (iface: string, address: string, prefixLen: number) => [
  "-6",
  "addr",
  "add",
  cidrOf(address, prefixLen),
  "dev",
  assertIfaceName(iface),
];
export const addrDelArgs = (iface: string, cidr: string) => [
  "-6",
  "addr",
  "del",
  ip6Cidr(cidr),
  "dev",
  assertIfaceName(iface),
];
export const addrShowArgs = (iface: string) => ["-6", "-o", "addr", "show", "dev", assertIfaceName(iface)];

/** `addr/len` of an IPv6 address (canonical, host bits kept). */
function ip6Cidr(text: string): string {
  const c = parseCidr(text);
  if (c.family !== 6) throw new Error(`${text}: expected an IPv6 address`);
  return `${c.address}/${c.prefixLen}`;
}
const cidrOf = (address: string, prefixLen: number) => ip6Cidr(`${address}/${prefixLen}`);

/** One peer as the agent wants it. */
export interface WgPeerSpec {
  publicKey: string;
  /** CIDRs routed to this peer (replacing what it had). */
  allowedIps: readonly string[];
  /** `host:port`; absent leaves the endpoint as it is (wg cannot unset one; the peer's own packets roam it). */
  endpoint?: string;
  /** Seconds; absent or 0 = off. */
  persistentKeepalive?: number;
}

export interface WgConfig {
  iface: string;
  privateKeyFile: string;
  /** UDP port; 0 lets the kernel choose. */
  listenPort: number;
  peers: readonly WgPeerSpec[];
}

/**
 * `wg set` for the interface and each listed peer: the key file, the port, and per peer the endpoint (if
 * given), keepalive (explicitly `off` when absent) and allowed IPs (replaced). Peers not listed are left
 * alone; remove them with {@link wgRemovePeerArgs}.
 */
export function wgSetArgs(c: WgConfig): string[] {
  if (c.privateKeyFile === "" || c.privateKeyFile.startsWith("-")) throw new Error("private key file path");
  const args = [
    "set",
    assertIfaceName(c.iface),
    "listen-port",
    String(assertPort(c.listenPort, "listen port")),
  ];
  args.push("private-key", c.privateKeyFile);
  for (const p of c.peers) {
    args.push("peer", toKey(p.publicKey));
    if (p.endpoint !== undefined) args.push("endpoint", assertEndpoint(p.endpoint));
    const ka = p.persistentKeepalive ?? 0;
    if (!Number.isInteger(ka) || ka < 0 || ka > 65535)
      throw new Error(`persistent keepalive ${ka}: expected 0..65535`);
    args.push("persistent-keepalive", ka === 0 ? "off" : String(ka));
    args.push("allowed-ips", p.allowedIps.map((a) => parseCidr(a).text).join(","));
  }
  return args;
}

export const wgRemovePeerArgs = (iface: string, publicKey: string) => [
  "set",
  assertIfaceName(iface),
  "peer",
  toKey(publicKey),
  "remove",
];
export const wgDumpArgs = (iface: string) => ["show", assertIfaceName(iface), "dump"];

function toKey(b64: string): string {
  parseWgKey(b64, "peer public key");
  return b64;
}

/** One peer as `wg show <if> dump` reports it. */
export interface WgPeerState {
  publicKey: string;
  endpoint: string | undefined;
  allowedIps: string[];
  /** Unix seconds; 0 = never. */
  latestHandshakeUnix: number;
  rxBytes: number;
  txBytes: number;
  /** Seconds; 0 = off. */
  persistentKeepalive: number;
}

/** The interface as `wg show <if> dump` reports it, without its private key. */
export interface WgDump {
  /** Undefined while no private key is set. */
  publicKey: string | undefined;
  listenPort: number;
  peers: WgPeerState[];
}

const none = (v: string) => (v === "(none)" ? undefined : v);

function count(v: string | undefined, what: string, line: number): number {
  const n = Number(v);
  if (v === undefined || v === "" || !Number.isSafeInteger(n) || n < 0)
    throw new Error(`wg dump line ${line}: ${what} is not a count`);
  return n;
}

/**
 * Parses `wg show <if> dump`: line 1 `private-key public-key listen-port fwmark`, then per peer
 * `public-key preshared-key endpoint allowed-ips latest-handshake transfer-rx transfer-tx
 * persistent-keepalive`, tab-separated. The private key (and preshared keys) are dropped unread; errors
 * name line and field, never a value.
 */
export function parseWgDump(stdout: string): WgDump {
  const lines = stdout.split("\n").filter((l) => l !== "");
  const [head, ...rest] = lines.map((l) => l.split("\t"));
  if (head?.length !== 4) throw new Error(`wg dump line 1: expected 4 fields, got ${head?.length ?? 0}`);
  const peers = rest.map((f, i): WgPeerState => {
    const line = i + 2;
    if (f.length !== 8) throw new Error(`wg dump line ${line}: expected 8 fields, got ${f.length}`);
    const allowed = none(f[3] as string);
    return {
      publicKey: f[0] as string,
      endpoint: none(f[2] as string),
      allowedIps: allowed === undefined ? [] : allowed.split(","),
      latestHandshakeUnix: count(f[4], "latest-handshake", line),
      rxBytes: count(f[5], "transfer-rx", line),
      txBytes: count(f[6], "transfer-tx", line),
      persistentKeepalive: f[7] === "off" ? 0 : count(f[7], "persistent-keepalive", line),
    };
  });
  return { publicKey: none(head[1] as string), listenPort: count(head[2], "listen-port", 1), peers };
}

/**
 * The IPv6 addresses of `ip -6 -o addr show dev <if>` (busybox and iproute2 print the same):
 * `5: wg0    inet6 fd00::1/64 scope global \       valid_lft forever preferred_lft forever`.
 */
export function parseIp6Addrs(stdout: string): { cidr: string; scope: string }[] {
  const out: { cidr: string; scope: string }[] = [];
  for (const line of stdout.split("\n")) {
    const m = /\sinet6\s+([0-9A-Fa-f:.]+\/[0-9]+)\s+(?:.*?\s)?scope\s+(\S+)/.exec(line);
    if (m) out.push({ cidr: m[1] as string, scope: m[2] as string });
  }
  return out;
}

export interface EnsureInterfaceSpec {
  /** The node's overlay address (a /128), without a length. */
  address: string;
  /** The network's prefix length (64): the kernel then routes the prefix into the interface. */
  prefixLen: number;
  mtu: number;
  /** VIPs this node holds (addresses without a length), each added as a /128. */
  vips?: readonly string[];
}

export interface EnsureInterfaceResult {
  created: boolean;
  /** What was changed, for the log (`created`, `mtu 1420 up`, `address fd..::1/64`, `removed ...`). */
  changes: string[];
}

/** The OS side of a WireGuard mesh interface. */
export interface WireguardSys {
  /** Creates the link if missing; then sets what differs: mtu and up, the address and VIPs (other global ones go). */
  ensureInterface(iface: string, spec: EnsureInterfaceSpec): Promise<EnsureInterfaceResult>;
  setConfig(iface: string, config: Omit<WgConfig, "iface">): Promise<void>;
  removePeer(iface: string, publicKey: string): Promise<void>;
  /** The interface's state; undefined when the link does not exist. */
  show(iface: string): Promise<WgDump | undefined>;
  /** Removes the link; false when there was none. */
  deleteInterface(iface: string): Promise<boolean>;
  /** Interfaces whose name starts with `prefix`, sorted (from /sys/class/net). */
  listInterfaces(prefix: string): string[];
}

export interface WireguardOptions {
  /** Default {@link WG_BIN}. */
  wgBin?: string;
  /** Default `/sys` (tests use a temp tree). */
  sysRoot?: string;
}

/** `ip` (busybox, on PATH as in net.ts) and `wg` through `exec`; link state read from sysfs. */
export function createWireguard(exec: Exec, opts: WireguardOptions = {}): WireguardSys {
  const wg = opts.wgBin ?? WG_BIN;
  const net = join(opts.sysRoot ?? "/sys", "class/net");
  const t = { timeoutMs: 10_000 };
  const exists = (iface: string) => existsSync(join(net, assertIfaceName(iface)));
  const read = (iface: string, f: string) => {
    const p = join(net, iface, f);
    return existsSync(p) ? readFileSync(p, "utf8").trim() : undefined;
  };

  return {
    async ensureInterface(iface, spec) {
      const changes: string[] = [];
      const created = !exists(iface);
      if (created) {
        await exec.run("ip", linkAddArgs(iface), t);
        changes.push("created");
      } else {
        // a wireguard link says DEVTYPE=wireguard; lo and ethernet links have no DEVTYPE at all
        const type = /^DEVTYPE=(.*)$/m.exec(read(iface, "uevent") ?? "")?.[1];
        if (type !== "wireguard")
          throw new Error(`${iface} exists and is not a wireguard link (DEVTYPE=${type ?? "none"})`);
      }
      const up = (Number.parseInt(read(iface, "flags") ?? "0", 16) & 1) === 1;
      if (created || !up || read(iface, "mtu") !== String(spec.mtu)) {
        await exec.run("ip", linkUpArgs(iface, spec.mtu), t);
        changes.push(`mtu ${spec.mtu} up`);
      }
      const want = [
        [spec.address, spec.prefixLen] as const,
        ...(spec.vips ?? []).map((v) => [v, 128] as const),
      ].map(([a, len]) => ({ address: a, len, cidr: cidrOf(a, len) }));
      const have = parseIp6Addrs((await exec.run("ip", addrShowArgs(iface), t)).stdout);
      for (const a of have) {
        if (a.scope !== "global" || want.some((w) => sameCidr(a.cidr, w.cidr))) continue;
        await exec.run("ip", addrDelArgs(iface, a.cidr), t);
        changes.push(`removed ${a.cidr}`);
      }
      for (const w of want) {
        if (have.some((a) => sameCidr(a.cidr, w.cidr))) continue;
        await exec.run("ip", addrAddArgs(iface, w.address, w.len), t);
        changes.push(`address ${w.cidr}`);
      }
      return { created, changes };
    },
    async setConfig(iface, config) {
      await exec.run(wg, wgSetArgs({ ...config, iface }), t);
    },
    async removePeer(iface, publicKey) {
      await exec.run(wg, wgRemovePeerArgs(iface, publicKey), t);
    },
    async show(iface) {
      if (!exists(iface)) return undefined;
      const r = await exec.run(wg, wgDumpArgs(iface), { ...t, allowFailure: true });
      if (r.exitCode !== 0) {
        if (!exists(iface)) return undefined; // deleted meanwhile
        throw new Error(`${wg} show ${iface} dump: exit ${r.exitCode}: ${r.stderr.slice(-300).trim()}`);
      }
      return parseWgDump(r.stdout);
    },
    async deleteInterface(iface) {
      if (!exists(iface)) return false;
      await exec.run("ip", linkDelArgs(iface), t);
      return true;
    },
    listInterfaces(prefix) {
      if (!existsSync(net)) return [];
      return readdirSync(net)
        .filter((n) => n.startsWith(prefix))
        .sort();
    },
  };
}

function sameCidr(a: string, b: string): boolean {
  const [x, xl] = a.split("/");
  const [y, yl] = b.split("/");
  return xl === yl && canonicalIp(x as string) === canonicalIp(y as string);
}
