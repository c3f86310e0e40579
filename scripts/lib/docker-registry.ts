/**
 * A stock OCI registry for tests and smokes: Debian's `docker-registry` (distribution v2) on a free
 * loopback port, filesystem storage and htpasswd (bcrypt) auth, the way operators run one. The binary
 * comes from the package in the per-user Debian cache (scripts/lib/deb-root.ts), never installed
 * system-wide (the package would start a system service on :5000).
 *
 * @example
 * await using reg = await startDockerRegistry({ dir, users: { pusher: "secret" } });
 * // reg.url (http://127.0.0.1:<port>), reg.host, reg.stop(), reg.start()
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type BackgroundProcess, cacheDir, startBackground } from "@powernode/exec";
import { debRoot } from "./deb-root.ts";
import { freePort } from "./postgres.ts";

export interface DockerRegistry {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  /** `127.0.0.1:<port>`. */
  host: string;
  logFile: string;
  /** Stops the registry (its storage stays). */
  stop(): Promise<void>;
  /** Starts it again on the same port and storage. */
  start(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export interface StartDockerRegistryOptions {
  /** Scratch directory: config, htpasswd, storage, log. */
  dir: string;
  /** htpasswd users and their passwords. */
  users: Record<string, string>;
}

/** The registry config (distribution's YAML; JSON is YAML). */
export function registryConfig(o: { addr: string; storage: string; htpasswd: string }): string {
  return JSON.stringify({
    version: 0.1,
    log: { level: "info", accesslog: { disabled: false } },
    storage: { filesystem: { rootdirectory: o.storage }, delete: { enabled: true } },
    http: { addr: o.addr },
    auth: { htpasswd: { realm: "powernode-test", path: o.htpasswd } },
  });
}

/** Starts the registry; throws naming what is missing. */
export async function startDockerRegistry(opts: StartDockerRegistryOptions): Promise<DockerRegistry> {
  const root = await debRoot(
    "docker-registry",
    process.arch === "arm64" ? "arm64" : "amd64",
    join(cacheDir(), "tools"),
  );
  const bin = join(root, "usr/bin/docker-registry");
  mkdirSync(join(opts.dir, "storage"), { recursive: true });
  const htpasswd = join(opts.dir, "htpasswd");
  writeFileSync(
    htpasswd,
    Object.entries(opts.users)
      .map(([u, p]) => `${u}:${Bun.password.hashSync(p, { algorithm: "bcrypt", cost: 4 })}\n`)
      .join(""),
  );
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const config = join(opts.dir, "config.yml");
  writeFileSync(config, registryConfig({ addr: host, storage: join(opts.dir, "storage"), htpasswd }));
  const logFile = join(opts.dir, "registry.log");
  const url = `http://${host}`;
  let proc: BackgroundProcess | undefined;
  const start = async () => {
    if (proc?.running()) return;
    const p = startBackground(bin, ["serve", config], { logFile });
    proc = p;
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (!p.running()) throw p.failure(await p.exited);
      const ok = await fetch(`${url}/v2/`).then(
        (r) => r.status === 401,
        () => false,
      );
      if (ok) return;
      if (Date.now() > deadline)
        throw new Error(`timed out after 20 s waiting for docker-registry (log ${logFile})`);
      await Bun.sleep(50);
    }
  };
  const stop = async () => {
    await proc?.stop();
  };
  await start();
  return { url, host, logFile, stop, start, [Symbol.asyncDispose]: stop };
}
