/**
 * dockerd's configuration, as pure functions: daemon.json (TLS verify, the overlay address and the
 * local socket only, no iptables or bridge: see docs/decisions/0014-docker-on-nodes.md) and the files
 * under /etc/docker of the composed root.
 */
import { DOCKER_SOCKET } from "../../sys/docker-daemon.ts";

export const ETC_DOCKER = "/etc/docker";

export interface DaemonConfigInput {
  listenAddress: string;
  port: number;
}

/** The daemon.json text for a managed host. */
export function daemonJson(input: DaemonConfigInput): string {
  const config = {
    hosts: [`unix://${DOCKER_SOCKET}`, `tcp://[${input.listenAddress}]:${input.port}`],
    tls: true,
    tlsverify: true,
    tlscacert: `${ETC_DOCKER}/ca.pem`,
    tlscert: `${ETC_DOCKER}/server-cert.pem`,
    tlskey: `${ETC_DOCKER}/server-key.pem`,
    "data-root": "/var/lib/docker",
    "exec-root": "/run/docker",
    pidfile: "/run/docker.pid",
    "storage-driver": "overlay2",
    iptables: false,
    "ip-forward": false,
    "ip-masq": false,
    bridge: "none",
    "log-driver": "json-file",
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}

/** dockerd's argv in the composed root. */
export const dockerdArgv = (): string[] => [
  "/usr/sbin/dockerd",
  "--config-file",
  `${ETC_DOCKER}/daemon.json`,
];

/**
 * Where dockerd finds the hub's registry credentials: `certs.d/<host:port>/` with the hub CA and the
 * node's own client certificate (the hub's `/v2/` on the node listener wants mTLS).
 */
export function registryCertsDir(platformUrl: string): string {
  const u = new URL(platformUrl);
  return `${ETC_DOCKER}/certs.d/${u.host}`;
}
