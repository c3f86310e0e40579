/**
 * Starting and stopping a whole hub in process: deps (database migrated, CA, admin token), the Elysia
 * listener, the mTLS http2 listener and the scheduler, all composed from the feature list.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startBootListener } from "./boot-listener.ts";
import { type HubConfig, parseHubConfig } from "./config.ts";
import { createDeps, type Deps } from "./deps.ts";
import type { Feature } from "./feature.ts";
import { FEATURES } from "./features.ts";
import { type Scheduler, startScheduler } from "./jobs/scheduler.ts";
import type { Logger } from "./log.ts";
import { startMetricsListener } from "./observability/metrics-listener.ts";
import { startOperatorListener } from "./operator-listener.ts";
import type { InstanceProvider } from "./providers/provider.ts";
import { startMtlsServer } from "./rpc/mtls-server.ts";

/** Options of {@link startHub}: any config field, plus providers, a logger and the nodes' host. */
export type StartHubOptions = Partial<HubConfig> & {
  /** Providers besides "none"; when omitted, the default ones (QEMU when present) are loaded. */
  providers?: readonly InstanceProvider[];
  log?: Logger;
  /**
   * The address nodes reach this hub at (default 10.0.2.2, QEMU user networking's host): unless
   * `nodeUrl`/`nodeHttpUrl` are given they become `https://<nodeHost>:<mtls port>` and
   * `http(s)://<nodeHost>:<http port>` on the ports actually bound, and the TLS certificate names it.
   * A lab network's host end, e.g. 10.203.1.1 (smokes/lib/lab.ts).
   */
  nodeHost?: string;
  /** False: unary node calls go through Connect too, not the direct path (tests compare the two). */
  directNodeCalls?: boolean;
};

/** The default {@link StartHubOptions.nodeHost}: the host as QEMU user networking shows it. */
const QEMU_USER_HOST = "10.0.2.2";

/** A running hub. */
export interface RunningHub {
  /**
   * The operator listener: API (Connect, gRPC-Web, JSON), /healthz, /metrics (token), /events/stream,
   * the web console; `https://` unless plain HTTP was asked for (the test harness's default).
   */
  httpUrl: string;
  /** True when the operator listener speaks HTTPS (trust `caPem`, or the ACME chain of `operatorSource`). */
  operatorTls: boolean;
  /** The operator listener's certificate at start: `internal-ca`, `acme:<name>:<serial>`, or `plain-http`. */
  operatorSource: string;
  /** mTLS listener as reached from this host (https://127.0.0.1:<port>). */
  mtlsUrl: string;
  /** mTLS listener as nodes reach it (POWERNODE_NODE_URL, default https://<nodeHost>:<port>). */
  nodeUrl: string;
  /** Where netbooting machines fetch `/boot/` (POWERNODE_NODE_HTTP_URL): the boot listener when there is one. */
  nodeHttpUrl: string;
  /** PEM of the internal CA (trust anchor for the mTLS listener and, without ACME, the operator listener). */
  caPem: string;
  /** The metrics listener (POWERNODE_METRICS_LISTEN: `/metrics` without a token), when configured. */
  metricsUrl: string | undefined;
  /** Operator bearer token ("" when an existing hub's token file is gone). */
  adminToken: string;
  /** True when this start made the admin token. */
  adminTokenCreated: boolean;
  deps: Deps;
  scheduler: Scheduler;
  stop(): Promise<void>;
}

/** `host` as a URL authority's host: IPv6 literals in brackets. */
function urlHost(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}

function localUrl(scheme: string, host: string, port: number): string {
  const h =
    host === "0.0.0.0" || host === "::" || host === ""
      ? "127.0.0.1"
      : host.includes(":")
        ? `[${host}]`
        : host;
  return `${scheme}://${h}:${port}`;
}

/**
 * Starts a hub. Without `dataDir` a temporary one is made (and removed by `stop()`); without
 * `databaseUrl` the database is an in-memory PGlite. Ports default to 0 (any free port). Unlike a
 * configured hub, the operator listener is plain HTTP on the listen host unless `operatorTls: true`.
 *
 * @example
 * const hub = await startHub({ providers: [myProvider] });
 * // ... use hub.httpUrl, hub.adminToken, hub.nodeUrl, hub.caPem
 * await hub.stop();
 */
export async function startHub(opts: StartHubOptions = {}): Promise<RunningHub> {
  const { providers, log, nodeHost, directNodeCalls, ...overrides } = opts;
  const tempDir = overrides.dataDir ? undefined : mkdtempSync(join(tmpdir(), "powernode-hub-"));
  const config: HubConfig = {
    ...parseHubConfig({}),
    httpPort: 0,
    mtlsPort: 0,
    ipfixPort: 0,
    databaseUrl: "memory://",
    // The harness serves plain HTTP on the listen host unless a test asks for TLS (operatorTls: true).
    operatorTls: false,
    ...overrides,
    operatorHost: overrides.operatorHost ?? overrides.listenHost ?? "0.0.0.0",
    dataDir: overrides.dataDir ?? (tempDir as string),
  };
  if ("databaseUrl" in overrides && overrides.databaseUrl === undefined) config.databaseUrl = undefined;
  return startHubWithConfig(config, {
    providers,
    log,
    nodeUrlGiven: overrides.nodeUrl !== undefined,
    nodeHttpUrlGiven: overrides.nodeHttpUrl !== undefined,
    nodeHost,
    tempDir,
    directNodeCalls,
  });
}

/** Starts a hub from a complete config (what main.ts does). */
export async function startHubWithConfig(
  config: HubConfig,
  opts: {
    providers?: readonly InstanceProvider[];
    log?: Logger;
    nodeUrlGiven?: boolean;
    nodeHttpUrlGiven?: boolean;
    /** See {@link StartHubOptions.nodeHost}. */
    nodeHost?: string;
    tempDir?: string;
    /** See {@link StartHubOptions.directNodeCalls}. */
    directNodeCalls?: boolean;
    /** The features to serve (default: all of `features.ts`). */
    features?: readonly Feature[];
  } = {},
): Promise<RunningHub> {
  const features = opts.features ?? FEATURES;
  const nodeHost = opts.nodeHost ?? QEMU_USER_HOST;
  if (!/^[A-Za-z0-9.:-]+$/.test(nodeHost)) {
    if (opts.tempDir) rmSync(opts.tempDir, { recursive: true, force: true });
    throw new Error(`nodeHost: ${JSON.stringify(nodeHost)} is not a host name or IP`);
  }
  const built = await createDeps(config, {
    providers: opts.providers,
    log: opts.log,
    sections: features.flatMap((f) => f.sections ?? []),
    heartbeatObservers: features.flatMap((f) => (f.heartbeat ? [f.heartbeat] : [])),
    instanceDeletedHooks: features.flatMap((f) => (f.instanceDeleted ? [f.instanceDeleted] : [])),
  });
  const { deps } = built;
  const shutdown = new AbortController();
  const cleanups: (() => Promise<void>)[] = [];
  const stop = async () => {
    shutdown.abort();
    for (const c of cleanups.reverse()) {
      await c().catch((e) => deps.log.warn("stopping hub", { error: e }));
    }
    await built.close();
    if (opts.tempDir) rmSync(opts.tempDir, { recursive: true, force: true });
  };
  try {
    const scheduler = await startScheduler(deps, features);
    cleanups.push(async () => scheduler.stop());

    const nodeUrlHost = new URL(config.nodeUrl).hostname.replace(/^\[|\]$/g, "");
    const identity = await deps.ca.issueServerCertificate([
      ...new Set([
        "localhost",
        "127.0.0.1",
        "::1",
        QEMU_USER_HOST,
        nodeHost,
        nodeUrlHost,
        ...config.hostnames,
      ]),
    ]);
    const mtls = await startMtlsServer(deps, identity, {
      host: config.listenHost,
      port: config.mtlsPort,
      features,
      shutdown: shutdown.signal,
      directNodeCalls: opts.directNodeCalls,
    });
    cleanups.push(() => mtls.close());
    if (!opts.nodeUrlGiven) config.nodeUrl = `https://${urlHost(nodeHost)}:${mtls.port}`;
    config.mtlsPort = mtls.port; // the bound port (0 asked for any): features name the hub by it

    const operator = await startOperatorListener(deps, features, shutdown.signal, identity);
    cleanups.push(operator.close);
    config.httpPort = operator.port;
    const boot = startBootListener(deps, features, shutdown.signal);
    if (boot) cleanups.push(boot.close);
    for (const f of features)
      for (const start of f.listeners ?? []) {
        const l = await start(deps, shutdown.signal);
        if (l) cleanups.push(l.close);
      }
    if (!opts.nodeHttpUrlGiven)
      config.nodeHttpUrl = boot
        ? `http://${urlHost(nodeHost)}:${boot.port}`
        : `${config.operatorTls ? "https" : "http"}://${urlHost(nodeHost)}:${operator.port}`;
    const metricsListener = config.security.metricsListen
      ? startMetricsListener(deps, config.security.metricsListen)
      : undefined;
    if (metricsListener) cleanups.push(() => metricsListener.stop());

    return {
      httpUrl: localUrl(config.operatorTls ? "https" : "http", config.operatorHost, operator.port),
      operatorTls: config.operatorTls,
      operatorSource: operator.source,
      mtlsUrl: localUrl("https", config.listenHost, mtls.port),
      nodeUrl: config.nodeUrl,
      nodeHttpUrl: config.nodeHttpUrl,
      metricsUrl: metricsListener?.url,
      caPem: deps.ca.certPem,
      adminToken: built.adminToken.token,
      adminTokenCreated: built.adminToken.created,
      deps,
      scheduler,
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
