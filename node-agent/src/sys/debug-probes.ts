/**
 * The OS side of the test-only debug probes (`powernode.debug=1`): ICMP echo, files of random bytes
 * and their sha256, and a trial NFS mount. File work runs in busybox child processes with a timeout,
 * so a probe on a share whose server is away never blocks the agent (a `hard` mount waits for it).
 */
import { dirname } from "node:path";
import type { Exec } from "./exec.ts";
import { nfsMountArgv } from "./nfs.ts";
import type { Ping } from "./ping.ts";

export interface FileDigest {
  sha256: string;
  bytes: number;
}

export interface DebugProbesOs {
  ping: Ping["ping"];
  /** Writes `mib` MiB from /dev/urandom to `path` (its directory made; fsync'd), then hashes it. */
  writeRandom(path: string, mib: number, timeoutMs: number): Promise<FileDigest>;
  /** sha256 and size of `path`. */
  hash(path: string, timeoutMs: number): Promise<FileDigest>;
  /**
   * Mounts an NFS share at `target` and unmounts it again; returns the fsid the kernel reported for
   * it (the server's v4 root is `0:0`); throws with the reason it failed.
   */
  tryMount(
    spec: { fstype: string; source: string; options: string },
    target: string,
    timeoutMs: number,
  ): Promise<{ fsid?: string }>;
}

/** `<64 hex>  <path>` (sha256sum's line) -> the digest. */
export function parseSha256sum(stdout: string): string {
  const m = /^([0-9a-f]{64})\s/.exec(stdout);
  if (!m) throw new Error(`sha256sum: unexpected output ${JSON.stringify(stdout.slice(0, 100))}`);
  return m[1] as string;
}

export function createDebugProbesOs(
  exec: Exec,
  ping: Ping,
  fsidOf: (target: string) => string | undefined = () => undefined,
): DebugProbesOs {
  const bb = async (args: string[], timeoutMs: number) => {
    const r = await exec.run("/bin/busybox", args, { timeoutMs, allowFailure: true });
    if (r.exitCode !== 0)
      throw new Error(`${args[0]}: exit ${r.exitCode}: ${`${r.stderr}${r.stdout}`.trim().slice(-300)}`);
    return r.stdout;
  };
  const hash = async (path: string, timeoutMs: number): Promise<FileDigest> => {
    const sha256 = parseSha256sum(await bb(["sha256sum", path], timeoutMs));
    const bytes = Number((await bb(["stat", "-c", "%s", path], timeoutMs)).trim());
    return { sha256, bytes };
  };
  return {
    ping: (target, opts) => ping.ping(target, opts),
    async writeRandom(path, mib, timeoutMs) {
      await bb(["mkdir", "-p", dirname(path)], timeoutMs);
      await bb(
        ["dd", "if=/dev/urandom", `of=${path}`, "bs=1048576", `count=${mib}`, "conv=fsync"],
        timeoutMs,
      );
      return hash(path, timeoutMs);
    },
    hash,
    async tryMount(spec, target, timeoutMs) {
      await bb(["mkdir", "-p", target], 5_000);
      await bb(nfsMountArgv(spec, target), timeoutMs);
      const fsid = fsidOf(target);
      await bb(["umount", "-l", target], 5_000);
      return fsid === undefined ? {} : { fsid };
    },
  };
}
