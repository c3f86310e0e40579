/**
 * The OS side of a managed Docker host: dockerd's data directory (a tmpfs at `<root>/var/lib/docker`:
 * overlay2 cannot stack on the composed root's overlayfs), the daemon process (chrooted into the
 * composed root like every module service), and its version over the local API socket.
 */
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { ModuleSys } from "./module-sys.ts";
import { mountedTargets } from "./mount.ts";

/** The local API socket inside the composed root (daemon.json's `unix://` host). */
export const DOCKER_SOCKET = "/run/docker.sock";
export const DOCKERD = "/usr/sbin/dockerd";

export interface DockerOs {
  /** True when the composed root has dockerd (the docker-engine module is mounted). */
  hasDaemon(root: string): boolean;
  /** Mounts the data directory if it is not mounted yet. */
  prepareDataDir(root: string): void;
  /** Unmounts it (its images and containers are gone). */
  releaseDataDir(root: string): void;
  /** Starts a process chrooted into the composed root (the module services' way). */
  spawnService: ModuleSys["spawnService"];
  /** The daemon's version from `GET /version` on the local socket; undefined while it does not answer. */
  version(root: string, signal?: AbortSignal): Promise<string | undefined>;
}

const DATA_DIR = "/var/lib/docker";

export function createDockerOs(sys: ModuleSys): DockerOs {
  return {
    hasDaemon: (root) => existsSync(join(root, DOCKERD)),
    prepareDataDir(root) {
      const target = join(root, DATA_DIR);
      if (mountedTargets().has(target)) return;
      mkdirSync(target, { recursive: true, mode: 0o710 });
      sys.mount("tmpfs", target, "tmpfs", false, "mode=0710");
    },
    releaseDataDir(root) {
      const target = join(root, DATA_DIR);
      if (mountedTargets().has(target)) sys.umount(target, true);
    },
    spawnService: (o) => sys.spawnService(o),
    async version(root, signal) {
      try {
        const res = await fetch("http://docker/version", {
          unix: join(root, DOCKER_SOCKET),
          signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(3000)]) : AbortSignal.timeout(3000),
        } as RequestInit);
        if (!res.ok) return undefined;
        const body = (await res.json()) as { Version?: unknown };
        return typeof body.Version === "string" ? body.Version : undefined;
      } catch {
        return undefined;
      }
    },
  };
}
