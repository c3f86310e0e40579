/**
 * ICMP echo with busybox `ping` (1.35), which takes IPv4 and IPv6 targets alike. It has no
 * machine-readable output, so only its summary line is read. {@link pingArgs} and
 * {@link parsePingSummary} are pure; {@link createPing} runs them through the injected {@link Exec}.
 */
import { isIP } from "node:net";
import type { Exec } from "./exec.ts";
import { assertIfaceName } from "./net.ts";

export interface PingOptions {
  /** Source interface (`-I`), e.g. a mesh's `wg-sdwan-<handle>`. */
  iface?: string;
  /** Echo requests, 1..100. */
  count: number;
  /** Seconds to wait for a reply after the last request (`-W`); default 2. */
  waitSeconds?: number;
}

/** `ping -q -c N -W S [-I iface] target`: one request a second, then only the summary. */
export function pingArgs(target: string, o: PingOptions): string[] {
  if (isIP(target) === 0) throw new Error(`ping target ${JSON.stringify(target)}: expected an IP address`);
  if (!Number.isInteger(o.count) || o.count < 1 || o.count > 100)
    throw new Error(`ping count ${o.count}: expected 1..100`);
  const wait = o.waitSeconds ?? 2;
  if (!Number.isInteger(wait) || wait < 1 || wait > 60)
    throw new Error(`ping wait ${wait}: expected 1..60 s`);
  const args = ["-q", "-c", String(o.count), "-W", String(wait)];
  if (o.iface !== undefined) args.push("-I", assertIfaceName(o.iface));
  return [...args, target];
}

export interface PingSummary {
  transmitted: number;
  received: number;
}

/** `2 packets transmitted, 1 packets received, 50% packet loss` -> counts; undefined without that line. */
export function parsePingSummary(stdout: string): PingSummary | undefined {
  const m = /^(\d+) packets transmitted, (\d+) packets received/m.exec(stdout);
  return m ? { transmitted: Number(m[1]), received: Number(m[2]) } : undefined;
}

export interface Ping {
  /** Counts from the summary (received 0 when nothing answered); throws when ping could not send at all. */
  ping(target: string, opts: PingOptions): Promise<PingSummary>;
}

/** busybox `ping` (on PATH, as net.ts names its applets) through `exec`. */
export function createPing(exec: Exec): Ping {
  return {
    async ping(target, opts) {
      const args = pingArgs(target, opts);
      const timeoutMs = (opts.count + (opts.waitSeconds ?? 2) + 5) * 1000;
      // busybox exits 1 when some reply is missing, with the summary still on stdout.
      const r = await exec.run("ping", args, { timeoutMs, allowFailure: true });
      const summary = parsePingSummary(r.stdout);
      if (!summary)
        throw new Error(
          `ping ${args.join(" ")}: exit ${r.exitCode}: ${r.stderr.slice(-300).trim() || "no summary"}`,
        );
      return summary;
    },
  };
}
