/**
 * A recording fake of {@link WireguardSys} for controller tests: the machines running the tests have no
 * wireguard kernel module, so interfaces and peers live in memory and every call is recorded. It checks
 * its arguments with the real builders (same errors), reads the private key file as `wg` does, and
 * keeps wg's semantics: peers are upserted (allowed IPs replaced, an endpoint kept when none is given),
 * removing an unknown peer succeeds, configuring a missing interface fails.
 */
import { readFileSync } from "node:fs";
import { parseCidr } from "./ip-address.ts";
import {
  addrAddArgs,
  type EnsureInterfaceResult,
  linkAddArgs,
  linkUpArgs,
  type WgDump,
  type WgPeerState,
  type WireguardSys,
  wgPublicKeyOf,
  wgRemovePeerArgs,
  wgSetArgs,
} from "./wireguard.ts";

/** One interface as the fake holds it. */
export interface FakeWgInterface {
  address: string;
  prefixLen: number;
  mtu: number;
  up: boolean;
  privateKeyFile?: string;
  publicKey?: string;
  listenPort: number;
  /** By public key, in the order they were added (wg's dump order). */
  peers: Map<string, WgPeerState>;
  /** VIP addresses held (each a /128). */
  vips?: string[];
}

export type WireguardMethod = Exclude<keyof WireguardSys, "listInterfaces">;

export interface WgFakeCall {
  method: WireguardMethod;
  args: unknown[];
}

export interface RecordingWireguardFake extends WireguardSys {
  readonly calls: WgFakeCall[];
  readonly interfaces: Map<string, FakeWgInterface>;
  /** What traffic would change: a peer's handshake time, byte counters or roamed endpoint. */
  setPeerStats(
    iface: string,
    publicKey: string,
    stats: Partial<Pick<WgPeerState, "latestHandshakeUnix" | "rxBytes" | "txBytes" | "endpoint">>,
  ): void;
  /** The next call of `method` throws `error` (after being recorded) and changes nothing. */
  failNext(method: WireguardMethod, error: Error): void;
}

export function createRecordingWireguardFake(): RecordingWireguardFake {
  const calls: WgFakeCall[] = [];
  const interfaces = new Map<string, FakeWgInterface>();
  const failures = new Map<WireguardMethod, Error>();
  const record = (method: WireguardMethod, ...args: unknown[]) => {
    calls.push({ method, args: structuredClone(args) });
    const err = failures.get(method);
    if (err) {
      failures.delete(method);
      throw err;
    }
  };
  const get = (iface: string, what: string) => {
    const i = interfaces.get(iface);
    if (!i) throw new Error(`${what} ${iface}: Unable to modify interface: No such device`);
    return i;
  };

  return {
    calls,
    interfaces,
    async ensureInterface(iface, spec): Promise<EnsureInterfaceResult> {
      record("ensureInterface", iface, spec);
      linkAddArgs(iface);
      linkUpArgs(iface, spec.mtu);
      const want = parseCidr(addrAddArgs(iface, spec.address, spec.prefixLen)[3] as string);
      const have = interfaces.get(iface);
      const changes: string[] = [];
      if (!have) changes.push("created", `mtu ${spec.mtu} up`);
      else if (have.mtu !== spec.mtu || !have.up) changes.push(`mtu ${spec.mtu} up`);
      if (have && (have.address !== want.address || have.prefixLen !== want.prefixLen))
        changes.push(`removed ${have.address}/${have.prefixLen}`);
      if (!have || have.address !== want.address || have.prefixLen !== want.prefixLen)
        changes.push(`address ${want.address}/${want.prefixLen}`);
      const next: FakeWgInterface = have ?? {
        address: "",
        prefixLen: 0,
        mtu: 0,
        up: false,
        listenPort: 0,
        peers: new Map(),
      };
      const vips = (spec.vips ?? []).map((v) => parseCidr(`${v}/128`).address);
      for (const v of next.vips ?? []) if (!vips.includes(v)) changes.push(`removed ${v}/128`);
      for (const v of vips) if (!(next.vips ?? []).includes(v)) changes.push(`address ${v}/128`);
      Object.assign(next, {
        address: want.address,
        prefixLen: want.prefixLen,
        mtu: spec.mtu,
        up: true,
        vips,
      });
      interfaces.set(iface, next);
      return { created: !have, changes };
    },
    async setConfig(iface, config) {
      record("setConfig", iface, config);
      wgSetArgs({ ...config, iface });
      const i = get(iface, "wg set");
      let publicKey: string;
      try {
        publicKey = wgPublicKeyOf(readFileSync(config.privateKeyFile, "utf8").trim());
      } catch (cause) {
        throw new Error(`wg set ${iface}: reading ${config.privateKeyFile}`, { cause });
      }
      Object.assign(i, { privateKeyFile: config.privateKeyFile, publicKey, listenPort: config.listenPort });
      for (const p of config.peers) {
        const old = i.peers.get(p.publicKey);
        i.peers.set(p.publicKey, {
          publicKey: p.publicKey,
          endpoint: p.endpoint ?? old?.endpoint,
          allowedIps: p.allowedIps.map((a) => parseCidr(a).text),
          latestHandshakeUnix: old?.latestHandshakeUnix ?? 0,
          rxBytes: old?.rxBytes ?? 0,
          txBytes: old?.txBytes ?? 0,
          persistentKeepalive: p.persistentKeepalive ?? 0,
        });
      }
    },
    async removePeer(iface, publicKey) {
      record("removePeer", iface, publicKey);
      wgRemovePeerArgs(iface, publicKey);
      get(iface, "wg set").peers.delete(publicKey);
    },
    async show(iface): Promise<WgDump | undefined> {
      record("show", iface);
      const i = interfaces.get(iface);
      if (!i) return undefined;
      return {
        publicKey: i.publicKey,
        listenPort: i.listenPort,
        peers: [...i.peers.values()].map((p) => ({ ...p, allowedIps: [...p.allowedIps] })),
      };
    },
    async deleteInterface(iface) {
      record("deleteInterface", iface);
      return interfaces.delete(iface);
    },
    listInterfaces(prefix) {
      return [...interfaces.keys()].filter((n) => n.startsWith(prefix)).sort();
    },
    setPeerStats(iface, publicKey, stats) {
      const p = interfaces.get(iface)?.peers.get(publicKey);
      if (!p) throw new Error(`fake: no peer ${publicKey} on ${iface}`);
      Object.assign(p, stats);
    },
    failNext(method, error) {
      failures.set(method, error);
    },
  };
}
