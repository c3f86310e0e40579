/**
 * The site tier's lab network: a network namespace with a bridge that QEMU nodes join through taps, a
 * veth pair to the host (nodes reach the hub at the host end's address), and busybox udhcpd handing out
 * addresses. Traffic stays on loopback and the lab's /24: nothing is forwarded or NATed. Names, addresses
 * and command lines come from `lab-plan.ts`; see docs/lab.md and decision 0010.
 *
 * @example
 * const lab = await createLab({ name: "site", index: 1 });
 * // CreateInstance({ ..., network: lab.network }) for each node; the hub's nodeHost = lab.hostAddress
 * const cap = await lab.capture(join(outDir, "lab.pcap"));
 * const packets = await cap.stop();
 * await lab.stop();
 */

import { createSocket } from "node:dgram";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BackgroundProcess, createExec, type Exec, startBackground } from "@powernode/exec";
import {
  interfacesOnSubnet,
  type LabPlan,
  labSetupCommands,
  planLab,
  tcpdumpArgv,
  udhcpdArgv,
  udhcpdConfig,
  udpPortBound,
} from "./lab-plan.ts";
import { type Packet, parsePcap } from "./pcap.ts";
import { type DhcpLease, parseUdhcpdLeases } from "./udhcpd-leases.ts";
import { waitFor } from "./wait.ts";

export type { Packet } from "./pcap.ts";
export type { DhcpLease } from "./udhcpd-leases.ts";

/** A running packet capture on the lab's bridge. */
export interface Capture {
  file: string;
  /**
   * Ends the capture and returns its packets. First a marker datagram goes from the host end to the
   * bridge (UDP port 9) and is waited for in the file: every packet before it has then been written
   * (tcpdump drops what it has not read yet when interrupted). Then SIGINT. The packets returned are
   * those before the marker.
   */
  stop(): Promise<Packet[]>;
}

/** A running lab. */
export interface Lab extends LabPlan {
  /** udhcpd's config, lease file and log, the captures' logs. */
  dir: string;
  /** Leases udhcpd has handed out (its lease file, rewritten every second). */
  leases(): DhcpLease[];
  /** Starts `tcpdump -i <bridge> -U -w <file>` in the namespace; resolves once it is listening. */
  capture(file: string): Promise<Capture>;
  /** Stops captures and udhcpd, ends every process left in the namespace, removes it and the veth. */
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Options of {@link createLab}. */
export interface LabOptions {
  /** 1-11 of [a-z0-9-]: namespace `pnlab-<name>`, host interface `pnl-<name>`. */
  name: string;
  /** 0-255: the lab is 10.203.<index>.0/24. */
  index: number;
  /** Where udhcpd's files go; default a new `pnlab-<name>-*` temp dir, removed by stop(). */
  dir?: string;
  /** One line per leftover removed (default: nothing printed). */
  log?: (line: string) => void;
  exec?: Exec;
}

const IP_TIMEOUT_MS = 15_000;

const netnsExists = (p: LabPlan) => existsSync(join("/run/netns", p.netns));
const hostLinkExists = (p: LabPlan) => existsSync(join("/sys/class/net", p.hostInterface));

/** Pids of processes in the lab's namespace (none when it does not exist). */
async function namespacePids(exec: Exec, p: LabPlan): Promise<number[]> {
  if (!netnsExists(p)) return [];
  const r = await exec.run("ip", ["netns", "pids", p.netns], {
    timeoutMs: IP_TIMEOUT_MS,
    allowFailure: true,
  });
  return r.stdout
    .split(/\s+/)
    .filter((s) => /^\d+$/.test(s))
    .map(Number);
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** The discard port: nothing listens there, so the marker is only ever seen by captures. */
const MARKER_PORT = 9;

/** Sends one marker datagram host end -> bridge; resolves with its source port. */
function sendMarker(p: LabPlan): Promise<number> {
  return new Promise((resolve, reject) => {
    const sock = createSocket("udp4");
    sock.once("error", (err) => {
      sock.close();
      reject(new Error(`sending the capture marker to ${p.bridgeAddress}:${MARKER_PORT}`, { cause: err }));
    });
    sock.bind(0, p.hostAddress, () => {
      const port = sock.address().port;
      sock.send("powernode capture marker", MARKER_PORT, p.bridgeAddress, (err) => {
        sock.close();
        if (err) reject(new Error(`sending the capture marker to ${p.bridgeAddress}`, { cause: err }));
        else resolve(port);
      });
    });
  });
}

/**
 * Removes whatever a lab of this name left: processes in its namespace (udhcpd, tcpdump, QEMU of a
 * crashed run: SIGTERM, then SIGKILL after 5 s), the host veth (its peer goes with it), the namespace.
 * Returns what it removed, for the log.
 */
export async function removeLab(exec: Exec, p: LabPlan): Promise<string[]> {
  const removed: string[] = [];
  const pids = await namespacePids(exec, p);
  if (pids.length > 0) {
    for (const pid of pids) signal(pid, "SIGTERM");
    const left = await waitFor(
      `processes ${pids.join(" ")} in ${p.netns} to exit after SIGTERM`,
      async () => ((await namespacePids(exec, p)).length === 0 ? [] : undefined),
      { timeoutMs: 5_000, intervalMs: 100 },
    ).catch(async () => namespacePids(exec, p));
    for (const pid of left) signal(pid, "SIGKILL");
    await waitFor(
      `processes ${left.join(" ")} in ${p.netns} to exit after SIGKILL`,
      async () => (await namespacePids(exec, p)).length === 0,
      { timeoutMs: 5_000, intervalMs: 100 },
    );
    removed.push(`${pids.length} process(es) in ${p.netns} (${pids.join(" ")})`);
  }
  if (hostLinkExists(p)) {
    await exec.run("ip", ["link", "del", p.hostInterface], { timeoutMs: IP_TIMEOUT_MS });
    removed.push(`host interface ${p.hostInterface}`);
  }
  if (netnsExists(p)) {
    await exec.run("ip", ["netns", "del", p.netns], { timeoutMs: IP_TIMEOUT_MS });
    removed.push(`namespace ${p.netns}`);
  }
  await waitFor(`${p.hostInterface} to disappear`, () => !hostLinkExists(p), {
    timeoutMs: 5_000,
    intervalMs: 50,
  });
  return removed;
}

/** Temp dirs of earlier labs of this name (`pnlab-<name>-*`), removed with their leases. */
function removeStaleDirs(name: string): string[] {
  const stale = readdirSync(tmpdir()).filter((d) => d.startsWith(`pnlab-${name}-`));
  for (const d of stale) rmSync(join(tmpdir(), d), { recursive: true, force: true });
  return stale.map((d) => join(tmpdir(), d));
}

/**
 * Creates lab `name` on 10.203.`index`.0/24 after removing the leftovers of an earlier run of the same
 * name. Needs root (namespaces, veths, taps).
 */
export async function createLab(opts: LabOptions): Promise<Lab> {
  const plan = planLab(opts);
  const exec = opts.exec ?? createExec();
  const log = opts.log ?? (() => undefined);
  for (const what of await removeLab(exec, plan)) log(`lab ${plan.name}: removed leftover ${what}`);
  if (!opts.dir) for (const d of removeStaleDirs(plan.name)) log(`lab ${plan.name}: removed stale ${d}`);

  const addrs = await exec.run("ip", ["-j", "-4", "addr", "show"], { timeoutMs: IP_TIMEOUT_MS });
  const clash = interfacesOnSubnet(addrs.stdout, plan, plan.hostInterface);
  if (clash.length > 0)
    throw new Error(
      `lab ${plan.name} index ${plan.index}: ${plan.cidr} is already on host interface ${clash.join(", ")}; pick another index`,
    );

  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), `pnlab-${plan.name}-`));
  mkdirSync(dir, { recursive: true });
  const files = { leaseFile: join(dir, "udhcpd.leases"), pidFile: join(dir, "udhcpd.pid") };
  const captures = new Set<BackgroundProcess>();
  let udhcpd: BackgroundProcess | undefined;
  let stopped = false;

  const stop = async () => {
    if (stopped) return;
    stopped = true;
    for (const c of captures) await c.stop({ signal: "SIGINT" });
    await udhcpd?.stop();
    await removeLab(exec, plan);
    if (!opts.dir) rmSync(dir, { recursive: true, force: true });
  };

  try {
    for (const [cmd, ...args] of labSetupCommands(plan)) {
      await exec.run(cmd as string, args, { timeoutMs: IP_TIMEOUT_MS });
    }
    // This interface never forwards, whatever the host's ip_forward says later.
    writeFileSync(`/proc/sys/net/ipv4/conf/${plan.hostInterface}/forwarding`, "0\n");

    const conf = join(dir, "udhcpd.conf");
    writeFileSync(conf, udhcpdConfig(plan, files));
    writeFileSync(files.leaseFile, "");
    const [cmd, ...args] = udhcpdArgv(plan, conf);
    writeFileSync(join(dir, "udhcpd.log"), "");
    const server = startBackground(cmd as string, args, { logFile: join(dir, "udhcpd.log") });
    udhcpd = server;
    let exited = false;
    void server.exited.then(() => {
      exited = true;
    });
    await waitFor(
      `udhcpd (pid ${server.pid}) to bind UDP port 67 in ${plan.netns} (log ${server.logFile})`,
      async () => {
        if (exited) throw server.failure(await server.exited);
        return udpPortBound(readFileSync(`/proc/${server.pid}/net/udp`, "utf8"), 67);
      },
      { timeoutMs: 10_000, intervalMs: 50 },
    );
  } catch (err) {
    await stop().catch(() => undefined);
    throw new Error(`creating lab ${plan.name} (${plan.cidr})`, { cause: err });
  }

  return {
    ...plan,
    dir,
    leases: () => (existsSync(files.leaseFile) ? parseUdhcpdLeases(readFileSync(files.leaseFile)) : []),
    async capture(file) {
      if (stopped) throw new Error(`lab ${plan.name} is stopped: no capture`);
      const logFile = `${file}.log`;
      writeFileSync(logFile, ""); // readiness is read from this log: no line of an earlier capture
      const [cmd, ...args] = tcpdumpArgv(plan, file);
      const p = startBackground(cmd as string, args, { logFile });
      captures.add(p);
      let exited = false;
      void p.exited.then(() => {
        exited = true;
      });
      try {
        await waitFor(
          `tcpdump on ${plan.bridge} in ${plan.netns} to listen (log ${logFile})`,
          async () => {
            if (exited) throw p.failure(await p.exited);
            return readFileSync(logFile, "utf8").includes("listening on");
          },
          { timeoutMs: 10_000, intervalMs: 50 },
        );
      } catch (err) {
        captures.delete(p);
        await p.stop({ signal: "SIGKILL" });
        throw err;
      }
      return {
        file,
        async stop() {
          try {
            if (exited) throw p.failure(await p.exited);
            const port = await sendMarker(plan);
            const isMarker = (k: Packet) =>
              k.protocol === "udp" &&
              k.srcPort === port &&
              k.dstPort === MARKER_PORT &&
              k.src === plan.hostAddress;
            return await waitFor(
              `the end marker (udp ${plan.hostAddress}:${port} -> ${plan.bridgeAddress}:${MARKER_PORT}) in ${file}`,
              () => {
                const packets = parsePcap(readFileSync(file));
                const at = packets.findIndex(isMarker);
                return at < 0 ? undefined : packets.slice(0, at);
              },
              { timeoutMs: 10_000, intervalMs: 50 },
            );
          } finally {
            captures.delete(p);
            await p.stop({ signal: "SIGINT" });
          }
        },
      };
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
