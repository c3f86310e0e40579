/**
 * Hub configuration from the environment: every variable parsed once, every problem reported at once.
 */
import { type AgentRolloutConfig, parseAgentRolloutConfig } from "./agent-builds/rollout-config.ts";
import { type AcmeConfig, parseAcmeConfig } from "./certs/acme-config.ts";
import { type ClaimsConfig, parseClaimsConfig } from "./claims/claims-config.ts";
import { type HubLimits, parseLimits } from "./limits.ts";
import { parseVipFailoverSeconds } from "./network/vip-failover-config.ts";
import { parseSecurityConfig, type SecurityConfig } from "./security-config.ts";

/** The hub's typed configuration. */
export interface HubConfig {
  /** Directory for the embedded database, the admin token file and other state (POWERNODE_DATA). */
  dataDir: string;
  /** postgres:// URL; undefined means PGlite under `dataDir/pglite` (or `memory://` in tests). */
  databaseUrl: string | undefined;
  httpPort: number;
  mtlsPort: number;
  listenHost: string;
  /**
   * The operator listener speaks HTTPS (the default: an ACME certificate for the hub's name when one is
   * active, else one from the internal CA, decision 0026); false only with POWERNODE_OPERATOR_PLAIN_HTTP=1.
   */
  operatorTls: boolean;
  /**
   * Where the operator listener binds: POWERNODE_OPERATOR_LISTEN_HOST, default `listenHost`; with plain
   * HTTP only a loopback address (default 127.0.0.1).
   */
  operatorHost: string;
  /**
   * POWERNODE_BOOT_HTTP_PORT: a plain-HTTP listener on `listenHost` serving only the features' boot
   * routes (`/boot/`, netboot); undefined = none. The default node HTTP URL then points at it.
   */
  bootHttpPort: number | undefined;
  /**
   * POWERNODE_IPFIX_PORT: the UDP port of the hub's IPFIX collector on `listenHost` (default 4739, the
   * IANA port; `off` for none). OVS bridges export to it once an operator names it as a collector.
   */
  ipfixPort: number | undefined;
  /** Extra DNS names / IPs for the hub's TLS certificate. */
  hostnames: string[];
  /** The URL nodes use to reach the mTLS listener (handed to providers as `platformUrl`). */
  nodeUrl: string;
  /**
   * Where netbooting machines fetch `/boot/` (the iPXE script's base): POWERNODE_NODE_HTTP_URL, default
   * `http://10.0.2.2:<boot port>` with a boot listener, else the operator listener's URL
   * (`https://` unless plain HTTP).
   */
  nodeHttpUrl: string;
  /**
   * Where nodes pull module artifacts (`<this>/modules/<name>@sha256:...`): POWERNODE_MODULE_REGISTRY_URL;
   * undefined = `nodeUrl`, the mTLS listener, which serves `/v2/` reads over TLS too.
   */
  moduleRegistryUrl: string | undefined;
  /**
   * Repository prefixes the hub's registry takes pushes for: POWERNODE_REGISTRY_REPOSITORIES
   * (comma-separated), default `modules/` and `images/` (container images for the nodes' runtimes).
   */
  registryRepositories: string[];
  heartbeatSeconds: number;
  /** An operator token to accept (and store hashed) instead of generating one. */
  adminToken: string | undefined;
  /** Call rates, connections per address, node listener timeouts (limits.ts). */
  limits: HubLimits;
  /** The key-encryption key's source and the metrics listener (security-config.ts). */
  security: SecurityConfig;
  /** The ACME directory, contact and server CA, the switch-over grace (certs/acme-config.ts). */
  acme: AcmeConfig;
  /** Claim mode: code lifetime, poll interval, discoveries per source (claims/claims-config.ts). */
  claims: ClaimsConfig;
  /** Agent rollouts: the default step timeout (agent-builds/rollout-config.ts). */
  agentRollouts: AgentRolloutConfig;
  /**
   * POWERNODE_VIP_FAILOVER_SECONDS: a VIP's primary without a heartbeat and a peer handshake for this
   * long fails over (network/vip-failover-config.ts); undefined = 15.
   */
  vipFailoverSeconds?: number;
}

/** Thrown by {@link parseHubConfig}; `problems` lists every bad variable. */
export class ConfigError extends Error {
  readonly kind = "config";
  constructor(readonly problems: string[]) {
    super(`invalid hub configuration: ${problems.join("; ")}`);
    this.name = "ConfigError";
  }
}

function parsePort(name: string, raw: string | undefined, fallback: number, problems: string[]): number {
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n > 65535) {
    problems.push(`${name}: "${raw}" is not a port number (0-65535)`);
    return fallback;
  }
  return n;
}

/**
 * Parses the hub's environment.
 *
 * @example
 * const config = parseHubConfig(process.env);
 */
export function parseHubConfig(env: Record<string, string | undefined>): HubConfig {
  const problems: string[] = [];
  const httpPort = parsePort("POWERNODE_HTTP_PORT", env.POWERNODE_HTTP_PORT, 8080, problems);
  const mtlsPort = parsePort("POWERNODE_MTLS_PORT", env.POWERNODE_MTLS_PORT, 8443, problems);

  const databaseUrl = env.DATABASE_URL || undefined;
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl) && databaseUrl !== "memory://") {
    problems.push(
      `DATABASE_URL: must start with postgres:// or postgresql:// (got "${redactUrl(databaseUrl)}")`,
    );
  }

  const hostnames = (env.POWERNODE_HOSTNAMES ?? "").split(/[\s,]+/).filter((h) => h !== "");
  for (const h of hostnames) {
    if (!/^[A-Za-z0-9.:*-]+$/.test(h)) problems.push(`POWERNODE_HOSTNAMES: "${h}" is not a host name or IP`);
  }

  const nodeUrl = env.POWERNODE_NODE_URL || `https://10.0.2.2:${mtlsPort}`;
  try {
    const u = new URL(nodeUrl);
    if (u.protocol !== "https:") problems.push(`POWERNODE_NODE_URL: must be https:// (got "${nodeUrl}")`);
  } catch {
    problems.push(`POWERNODE_NODE_URL: "${nodeUrl}" is not a URL`);
  }

  const listenHost = env.POWERNODE_LISTEN_HOST || "0.0.0.0";
  const plain = env.POWERNODE_OPERATOR_PLAIN_HTTP ?? "";
  if (!["", "0", "1", "false", "true"].includes(plain))
    problems.push(`POWERNODE_OPERATOR_PLAIN_HTTP: "${plain}" must be 1 or 0`);
  const operatorTls = plain !== "1" && plain !== "true";
  const operatorHost = env.POWERNODE_OPERATOR_LISTEN_HOST || (operatorTls ? listenHost : "127.0.0.1");
  if (!operatorTls && !isLoopback(operatorHost))
    problems.push(
      `POWERNODE_OPERATOR_LISTEN_HOST: plain HTTP (POWERNODE_OPERATOR_PLAIN_HTTP=1) binds only to loopback, not "${operatorHost}"`,
    );

  const bootHttpPort =
    env.POWERNODE_BOOT_HTTP_PORT === undefined || env.POWERNODE_BOOT_HTTP_PORT === ""
      ? undefined
      : parsePort("POWERNODE_BOOT_HTTP_PORT", env.POWERNODE_BOOT_HTTP_PORT, 0, problems);
  const ipfixPort =
    env.POWERNODE_IPFIX_PORT === "off"
      ? undefined
      : parsePort("POWERNODE_IPFIX_PORT", env.POWERNODE_IPFIX_PORT || undefined, 4739, problems);
  const nodeHttpUrl = (
    env.POWERNODE_NODE_HTTP_URL ||
    (bootHttpPort !== undefined
      ? `http://10.0.2.2:${bootHttpPort}`
      : `${operatorTls ? "https" : "http"}://10.0.2.2:${httpPort}`)
  ).replace(/\/+$/, "");
  try {
    const u = new URL(nodeHttpUrl);
    if (u.protocol !== "http:" && u.protocol !== "https:")
      problems.push(`POWERNODE_NODE_HTTP_URL: must be http:// or https:// (got "${nodeHttpUrl}")`);
  } catch {
    problems.push(`POWERNODE_NODE_HTTP_URL: "${nodeHttpUrl}" is not a URL`);
  }

  const moduleRegistryUrl = env.POWERNODE_MODULE_REGISTRY_URL?.replace(/\/+$/, "") || undefined;
  if (moduleRegistryUrl !== undefined) {
    try {
      const u = new URL(moduleRegistryUrl);
      if ((u.protocol !== "http:" && u.protocol !== "https:") || u.pathname !== "/")
        problems.push(
          `POWERNODE_MODULE_REGISTRY_URL: must be http(s)://host[:port] (got "${moduleRegistryUrl}")`,
        );
    } catch {
      problems.push(`POWERNODE_MODULE_REGISTRY_URL: "${moduleRegistryUrl}" is not a URL`);
    }
  }

  const registryRepositories = (env.POWERNODE_REGISTRY_REPOSITORIES ?? "modules/,images/")
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p !== "");
  for (const p of registryRepositories)
    if (!/^[a-z0-9]+([._-][a-z0-9]+)*(\/[a-z0-9]+([._-][a-z0-9]+)*)*\/$/.test(p))
      problems.push(
        `POWERNODE_REGISTRY_REPOSITORIES: "${p}" is not a repository prefix (lowercase path ending in "/")`,
      );
  if (registryRepositories.length === 0)
    problems.push("POWERNODE_REGISTRY_REPOSITORIES: names no prefix (the registry would take no push)");

  let heartbeatSeconds = 10;
  const hb = env.POWERNODE_HEARTBEAT_SECONDS;
  if (hb !== undefined && hb !== "") {
    if (!/^\d+$/.test(hb) || Number(hb) < 1 || Number(hb) > 3600) {
      problems.push(`POWERNODE_HEARTBEAT_SECONDS: "${hb}" must be an integer from 1 to 3600`);
    } else heartbeatSeconds = Number(hb);
  }

  const adminToken = env.POWERNODE_ADMIN_TOKEN || undefined;
  if (adminToken !== undefined && adminToken.length < 16) {
    problems.push("POWERNODE_ADMIN_TOKEN: must be at least 16 characters");
  }

  const limits = parseLimits(env, problems);
  const security = parseSecurityConfig(env, problems);
  const acme = parseAcmeConfig(env, problems);
  const claims = parseClaimsConfig(env, problems);
  const agentRollouts = parseAgentRolloutConfig(env, problems);
  const vipFailoverSeconds = parseVipFailoverSeconds(env, problems);

  if (problems.length > 0) throw new ConfigError(problems);
  return {
    dataDir: env.POWERNODE_DATA || "./var",
    databaseUrl,
    httpPort,
    mtlsPort,
    listenHost,
    operatorTls,
    operatorHost,
    bootHttpPort,
    ipfixPort,
    hostnames,
    nodeUrl,
    nodeHttpUrl,
    moduleRegistryUrl,
    registryRepositories,
    heartbeatSeconds,
    adminToken,
    limits,
    security,
    acme,
    claims,
    agentRollouts,
    vipFailoverSeconds,
  };
}

/** 127.0.0.0/8, ::1 or `localhost`: the only binds plain HTTP may have. */
export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127(\.\d{1,3}){3}$/.test(host);
}

/** Hides the password of a database URL for messages and logs. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, "//$1:***@");
}
