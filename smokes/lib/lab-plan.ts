/**
 * The site tier's lab network on paper: names, addresses and every command line (`ip`, udhcpd, tcpdump)
 * of a lab, built purely from its name and index so they can be tested with toEqual. `lab.ts` runs them.
 *
 *   host namespace                      namespace pnlab-<name>
 *   pnl-<name> 10.203.<i>.1/24 ======== uplink -- br0 10.203.<i>.2/24 (udhcpd) -- pnt<id> (QEMU) ...
 */

/** The lab's names and addresses. */
export interface LabPlan {
  name: string;
  index: number;
  /** Network namespace holding the bridge, udhcpd and the nodes' taps. */
  netns: string;
  /** Bridge inside the namespace. */
  bridge: string;
  /** Veth end in the host namespace (nodes reach the hub at its address). */
  hostInterface: string;
  /** Its peer inside the namespace, a port of the bridge. */
  uplink: string;
  /** `10.203.<index>.1`: the host end; the DHCP router option. */
  hostAddress: string;
  /** `10.203.<index>.2`: the bridge; udhcpd's server address. */
  bridgeAddress: string;
  /** `10.203.<index>.0/24`. */
  cidr: string;
  prefix: 24;
  /** Dynamic range handed out by udhcpd: `.10`-`.250`. */
  dhcpStart: string;
  dhcpEnd: string;
  /** The instance network string of the QEMU provider: `lab:<netns>:<bridge>`. */
  network: string;
}

/** Lab names become interface names (`pnl-<name>`, at most 15 bytes): 1-11 of [a-z0-9-]. */
const NAME = /^[a-z0-9][a-z0-9-]{0,10}$/;

/**
 * Names and addresses of lab `name` on 10.203.`index`.0/24.
 * @example planLab({ name: "site", index: 1 }).hostAddress // "10.203.1.1"
 */
export function planLab(opts: { name: string; index: number }): LabPlan {
  const { name, index } = opts;
  if (!NAME.test(name))
    throw new Error(
      `lab name ${JSON.stringify(name)}: use 1-11 of [a-z0-9-], starting with a letter or digit (it becomes the interface pnl-<name>)`,
    );
  if (!Number.isInteger(index) || index < 0 || index > 255)
    throw new Error(`lab index ${index}: must be an integer 0-255 (it picks 10.203.<index>.0/24)`);
  const net = `10.203.${index}`;
  const netns = `pnlab-${name}`;
  const bridge = "br0";
  return {
    name,
    index,
    netns,
    bridge,
    hostInterface: `pnl-${name}`,
    uplink: "uplink",
    hostAddress: `${net}.1`,
    bridgeAddress: `${net}.2`,
    cidr: `${net}.0/24`,
    prefix: 24,
    dhcpStart: `${net}.10`,
    dhcpEnd: `${net}.250`,
    network: `lab:${netns}:${bridge}`,
  };
}

/**
 * The `ip` command lines that build a lab, in order: namespace, veth pair (peer created inside it),
 * bridge with the uplink as a port, addresses, links up. Nothing routes or NATs beyond the /24.
 */
export function labSetupCommands(p: LabPlan): string[][] {
  const inNs = (...args: string[]) => ["ip", "-n", p.netns, ...args];
  return [
    ["ip", "netns", "add", p.netns],
    ["ip", "link", "add", p.hostInterface, "type", "veth", "peer", "name", p.uplink, "netns", p.netns],
    inNs("link", "set", "lo", "up"),
    inNs("link", "add", p.bridge, "type", "bridge", "stp_state", "0"),
    inNs("link", "set", p.uplink, "master", p.bridge, "up"),
    inNs("addr", "add", `${p.bridgeAddress}/${p.prefix}`, "dev", p.bridge),
    inNs("link", "set", p.bridge, "up"),
    ["ip", "addr", "add", `${p.hostAddress}/${p.prefix}`, "dev", p.hostInterface],
    ["ip", "link", "set", p.hostInterface, "up"],
  ];
}

/** Files of a lab's DHCP server. */
export interface UdhcpdFiles {
  leaseFile: string;
  pidFile: string;
}

/**
 * udhcpd.conf: `.10`-`.250` on the bridge, router = the host end, /24, one-hour leases, the lease file
 * rewritten every second (so it can be read while udhcpd runs). No DNS option: the lab has no resolver.
 */
export function udhcpdConfig(p: LabPlan, files: UdhcpdFiles): string {
  return [
    `start ${p.dhcpStart}`,
    `end ${p.dhcpEnd}`,
    `interface ${p.bridge}`,
    "max_leases 241",
    `lease_file ${files.leaseFile}`,
    `pidfile ${files.pidFile}`,
    "auto_time 1",
    "option subnet 255.255.255.0",
    `option router ${p.hostAddress}`,
    "option lease 3600",
    "",
  ].join("\n");
}

/**
 * udhcpd in the foreground inside the namespace (`ip netns exec` execs, so the pid is udhcpd's). The
 * ARP probe before each offer waits 200 ms instead of 2 s: the whole range is the lab's own.
 */
export function udhcpdArgv(p: LabPlan, confFile: string): string[] {
  return ["ip", "netns", "exec", p.netns, "/bin/busybox", "udhcpd", "-f", "-a", "200", confFile];
}

/**
 * tcpdump on the bridge inside the namespace: the bridge in promiscuous mode sees frames forwarded
 * between its ports too. `--immediate-mode` hands each packet over at once (else the kernel batches them
 * for up to a second and those still batched at SIGINT are lost), `-U` writes it at once; `-Z root` keeps
 * the right to write `file`.
 */
export function tcpdumpArgv(p: LabPlan, file: string): string[] {
  return [
    ...["ip", "netns", "exec", p.netns, "tcpdump", "-Z", "root", "-i", p.bridge],
    ...["--immediate-mode", "-U", "-n", "-w", file],
  ];
}

/** True when `/proc/<pid>/net/udp` text shows a socket bound to local `port` (udhcpd: 67). */
export function udpPortBound(procNetUdp: string, port: number): boolean {
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  return procNetUdp
    .split("\n")
    .slice(1)
    .some((l) => l.trim().split(/\s+/)[1]?.endsWith(`:${hex}`));
}

/**
 * Host interfaces (from `ip -j -4 addr show`) holding an address inside the lab's /24 other than
 * `except`: a second lab on the same index would make both unreachable.
 */
export function interfacesOnSubnet(ipAddrJson: string, p: LabPlan, except: string): string[] {
  const prefix = `${p.cidr.slice(0, p.cidr.lastIndexOf("."))}.`;
  const links = JSON.parse(ipAddrJson) as Array<{ ifname?: string; addr_info?: Array<{ local?: string }> }>;
  return links
    .filter((l) => l.ifname !== except && (l.addr_info ?? []).some((a) => a.local?.startsWith(prefix)))
    .map((l) => l.ifname ?? "?");
}
