/**
 * What the sdwan controller tells Open vSwitch, as a pure function of the section's OVS bridges and
 * what the OVS database holds (read back with ovs-vsctl's JSON): active bridges added, their VXLAN
 * tunnel ports added or re-pointed and stale ones deleted, their IPFIX export set, changed or cleared;
 * draining bridges (and `pwnbr-<n>` OVS bridges the section no longer names) deleted. Each command is
 * one ovs-vsctl argv; the same inputs give the same commands, none when the database matches.
 */
import type { HostBridge } from "@powernode/proto";
import { ovsMap, ovsSet, ovsUuid } from "../../sys/ovs.ts";
import { OURS } from "./bridge-plan.ts";

/** Our tunnel ports: `vx` + 12 hex digits (the hub's tunnelName). */
export const OUR_TUNNEL = /^vx[0-9a-f]{12}$/;

export interface ObservedIpfix {
  targets: string[];
  sampling: number;
  domain: number;
}

export interface ObservedOvs {
  /** Bridge name -> its port names and IPFIX export. */
  bridges: Map<string, { ports: string[]; ipfix?: ObservedIpfix }>;
  /** Interface name -> type and options. */
  interfaces: Map<string, { type: string; options: Record<string, string> }>;
}

/** Joins `ovs-vsctl --format=json list` of bridge, port, interface and ipfix (sys/ovs.ts parses them). */
export function observeOvs(tables: {
  bridge: Record<string, unknown>[];
  port: Record<string, unknown>[];
  interface: Record<string, unknown>[];
  ipfix: Record<string, unknown>[];
}): ObservedOvs {
  const portName = new Map(tables.port.map((p) => [ovsUuid(p._uuid), String(p.name)]));
  const ipfix = new Map(
    tables.ipfix.map((i) => [
      ovsUuid(i._uuid),
      {
        targets: ovsSet(i.targets).map(String).sort(),
        sampling: Number(ovsSet(i.sampling)[0] ?? 0),
        domain: Number(ovsSet(i.obs_domain_id)[0] ?? 0),
      },
    ]),
  );
  const bridges = new Map<string, { ports: string[]; ipfix?: ObservedIpfix }>();
  for (const b of tables.bridge) {
    const ports = ovsSet(b.ports)
      .map((u) => portName.get(ovsUuid(u)) ?? "")
      .filter((n) => n !== "")
      .sort();
    const i = ipfix.get(ovsUuid(ovsSet(b.ipfix)[0]));
    bridges.set(String(b.name), { ports, ...(i ? { ipfix: i } : {}) });
  }
  const interfaces = new Map(
    tables.interface.map((i) => [String(i.name), { type: String(i.type), options: ovsMap(i.options) }]),
  );
  return { bridges, interfaces };
}

type Bridge = Pick<HostBridge, "name" | "kind" | "state" | "tunnels" | "ipfix">;

/** An OVSDB string set for ovs-vsctl: `["a","b"]`. */
const stringSet = (xs: readonly string[]) => `[${xs.map((x) => JSON.stringify(x)).join(",")}]`;

export function planOvs(bridges: readonly Bridge[], seen: ObservedOvs): string[][] {
  const out: string[][] = [];
  const named = new Set<string>();
  for (const b of bridges) {
    if (b.kind !== "ovs" || !OURS.test(b.name)) continue;
    named.add(b.name);
    const have = seen.bridges.get(b.name);
    if (b.state !== "active") {
      if (have) out.push(["--if-exists", "del-br", b.name]);
      continue;
    }
    if (!have) out.push(["--may-exist", "add-br", b.name]);
    const ports = new Set(have?.ports ?? []);
    const wanted = new Set<string>();
    for (const t of b.tunnels) {
      wanted.add(t.name);
      const options = { key: String(t.key), local_ip: t.localIp, remote_ip: t.remoteIp };
      const opts = Object.entries(options).map(([k, v]) => `options:${k}=${v}`);
      const iface = seen.interfaces.get(t.name);
      if (!ports.has(t.name))
        out.push([
          "--may-exist",
          "add-port",
          b.name,
          t.name,
          "--",
          "set",
          "interface",
          t.name,
          "type=vxlan",
          ...opts,
        ]);
      else if (
        iface?.type !== "vxlan" ||
        Object.entries(options).some(([k, v]) => iface.options[k] !== v) ||
        Object.keys(iface.options).length !== 3
      )
        // The whole map, so an option set by someone else goes too (options:k=v would only merge).
        out.push([
          "set",
          "interface",
          t.name,
          "type=vxlan",
          `options={${Object.entries(options)
            .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
            .join(",")}}`,
        ]);
    }
    for (const p of [...ports].sort())
      if (OUR_TUNNEL.test(p) && !wanted.has(p)) out.push(["--if-exists", "del-port", b.name, p]);
    const want = b.ipfix;
    const got = have?.ipfix;
    if (want && want.targets.length > 0) {
      const targets = [...want.targets].sort();
      if (
        !got ||
        got.sampling !== want.sampling ||
        got.domain !== want.observationDomainId ||
        got.targets.join(" ") !== targets.join(" ")
      )
        out.push([
          "--",
          "--id=@i",
          "create",
          "ipfix",
          `targets=${stringSet(targets)}`,
          `sampling=${want.sampling}`,
          `obs_domain_id=${want.observationDomainId}`,
          "--",
          "set",
          "bridge",
          b.name,
          "ipfix=@i",
        ]);
    } else if (got) out.push(["clear", "bridge", b.name, "ipfix"]);
  }
  for (const name of [...seen.bridges.keys()].sort())
    if (OURS.test(name) && !named.has(name)) out.push(["--if-exists", "del-br", name]);
  return out;
}
