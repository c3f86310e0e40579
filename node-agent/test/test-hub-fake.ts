/**
 * A test hub fake: a real ConnectRPC NodeService on a real `node:http2` TLS listener (as the hub's agent
 * listener is), backed by a test CA and in-memory maps. It stands in for the hub, which node-agent may
 * not import; the real hub is driven against the agent from smokes/.
 */

import http2 from "node:http2";
import { createServer } from "node:net";
import type { TLSSocket } from "node:tls";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate, timestampNow } from "@bufbuild/protobuf/wkt";
import {
  Code,
  ConnectError,
  type ConnectRouter,
  createContextKey,
  createContextValues,
} from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import {
  type DesiredState,
  DesiredStateSchema,
  type EnrollRequest,
  type HeartbeatRequest,
  NodeService,
  type ReportStatusRequest,
} from "@powernode/proto";
import { createTestCa, type TestCa } from "./test-ca.ts";

const kPeerCn = createContextKey<string | undefined>(undefined, { description: "mTLS peer CN" });

export interface TestHubFakeOptions {
  /** Reuse a CA (to restart the "same" hub). */
  ca?: TestCa;
  /** Listen on this port (0 = any). */
  port?: number;
  /** Sent in EnrollResponse and HeartbeatResponse. */
  heartbeatSeconds?: number;
  certValidMs?: number;
  /** notBefore = now - this (default 60 s). */
  certBackdateMs?: number;
  /** Extra names/addresses in the server certificate (a QEMU guest reaches the host as 10.0.2.2). */
  serverNames?: string[];
  /** Tokens already issued (instance UUID -> token), e.g. for a restarted hub. */
  tokens?: Map<string, string>;
}

export interface TestHubFake {
  url: string;
  port: number;
  ca: TestCa;
  caPem: string;
  tokens: Map<string, string>;
  enrollments: EnrollRequest[];
  heartbeats: Array<{ cn: string; req: HeartbeatRequest }>;
  reports: Array<{ cn: string; req: ReportStatusRequest }>;
  /** CN of each RenewCertificate caller. */
  renewals: string[];
  /** Number of currently open WatchDesiredState streams. */
  openWatches(): number;
  /** Issues a single-use bootstrap token for an instance. */
  issueToken(instanceUuid: string): string;
  /** Publishes a new desired state to every watcher. */
  setDesiredState(state: MessageInitShape<typeof DesiredStateSchema>): void;
  /** The next `n` ReportStatus calls fail with Unavailable. */
  failReports(n: number): void;
  /** RenewCertificate is refused with FailedPrecondition ("... opens at <until>") until `until`. */
  refuseRenewalsUntil(until: Date): void;
  /** RenewCertificate calls refused so far. */
  refusedRenewals(): number;
  stop(): Promise<void>;
}

/** A free TCP port (for tests that stop and restart the fake on the same port). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Starts the fake on 127.0.0.1. */
export async function startTestHubFake(opts: TestHubFakeOptions = {}): Promise<TestHubFake> {
  const ca = opts.ca ?? (await createTestCa());
  const server = await ca.issueServerCert(["127.0.0.1", "localhost", ...(opts.serverNames ?? [])]);
  const tokens = opts.tokens ?? new Map<string, string>();
  const used = new Set<string>();
  const enrollments: EnrollRequest[] = [];
  const heartbeats: TestHubFake["heartbeats"] = [];
  const reports: TestHubFake["reports"] = [];
  const renewals: string[] = [];
  let desired: DesiredState | undefined;
  const watchers = new Set<() => void>();
  let failReports = 0;
  let renewalsRefusedUntil = 0;
  let refusedRenewals = 0;
  const hbSeconds = opts.heartbeatSeconds ?? 1;

  const requirePeer = (cn: string | undefined): string => {
    if (!cn) throw new ConnectError("client certificate required", Code.Unauthenticated);
    return cn;
  };

  const routes = (router: ConnectRouter) =>
    router.service(NodeService, {
      async enroll(req) {
        enrollments.push(req);
        const expected = tokens.get(req.instanceUuid);
        if (expected === undefined || expected !== req.bootstrapToken || used.has(req.bootstrapToken))
          throw new ConnectError("bootstrap token invalid, expired or used", Code.PermissionDenied);
        const signed = await ca.signCsr(req.csrPem, opts.certValidMs ?? 3_600_000, opts.certBackdateMs);
        if (signed.cn !== req.instanceUuid)
          throw new ConnectError(`CSR CN ${signed.cn} is not the instance UUID`, Code.InvalidArgument);
        used.add(req.bootstrapToken);
        return {
          certificatePem: signed.certPem,
          caChainPem: ca.caPem,
          instanceUuid: req.instanceUuid,
          notAfter: timestampFromDate(signed.notAfter),
          heartbeatIntervalSeconds: hbSeconds,
        };
      },
      async renewCertificate(req, ctx) {
        const cn = requirePeer(ctx.values.get(kPeerCn));
        if (Date.now() < renewalsRefusedUntil) {
          refusedRenewals++;
          throw new ConnectError(
            `RenewCertificate: too early: the renewal window opens at ${new Date(renewalsRefusedUntil).toISOString()}`,
            Code.FailedPrecondition,
          );
        }
        const signed = await ca.signCsr(req.csrPem, opts.certValidMs ?? 3_600_000, opts.certBackdateMs);
        if (signed.cn !== cn)
          throw new ConnectError(`CSR CN ${signed.cn} is not the caller ${cn}`, Code.PermissionDenied);
        renewals.push(cn);
        return {
          certificatePem: signed.certPem,
          caChainPem: ca.caPem,
          notAfter: timestampFromDate(signed.notAfter),
        };
      },
      async heartbeat(req, ctx) {
        const cn = requirePeer(ctx.values.get(kPeerCn));
        heartbeats.push({ cn, req });
        return {
          serverTime: timestampNow(),
          nextHeartbeatSeconds: hbSeconds,
          desiredVersion: desired?.version ?? 0n,
        };
      },
      async *watchDesiredState(req, ctx) {
        requirePeer(ctx.values.get(kPeerCn));
        let known = req.knownVersion;
        let wake: (() => void) | undefined;
        const notify = () => wake?.();
        watchers.add(notify);
        try {
          while (!ctx.signal.aborted) {
            if (desired && desired.version > known) {
              known = desired.version;
              yield { state: desired };
            }
            await new Promise<void>((resolve) => {
              wake = resolve;
              ctx.signal.addEventListener("abort", () => resolve(), { once: true });
            });
          }
        } finally {
          watchers.delete(notify);
        }
      },
      async reportStatus(req, ctx) {
        const cn = requirePeer(ctx.values.get(kPeerCn));
        if (failReports > 0) {
          failReports--;
          throw new ConnectError("report store down", Code.Unavailable);
        }
        reports.push({ cn, req });
        return { acceptedEvents: req.events.length };
      },
    });

  const sessions = new Set<http2.ServerHttp2Session>();
  const srv = http2.createSecureServer(
    {
      key: server.keyPem,
      cert: server.certPem,
      ca: ca.caPem,
      requestCert: true,
      // Enroll comes without a client certificate; the other calls check it in the handler.
      rejectUnauthorized: false,
      allowHTTP1: true,
    },
    connectNodeAdapter({
      routes,
      contextValues: (req) => {
        const sock = req.socket as TLSSocket;
        const cn = sock.authorized ? sock.getPeerCertificate()?.subject?.CN : undefined;
        return createContextValues().set(kPeerCn, typeof cn === "string" ? cn : undefined);
      },
    }),
  );
  srv.on("session", (s) => {
    sessions.add(s);
    s.on("close", () => sessions.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    srv.once("error", reject);
    srv.listen(opts.port ?? 0, "127.0.0.1", () => resolve());
  });
  const addr = srv.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;

  return {
    url: `https://127.0.0.1:${port}`,
    port,
    ca,
    caPem: ca.caPem,
    tokens,
    enrollments,
    heartbeats,
    reports,
    renewals,
    openWatches: () => watchers.size,
    issueToken(instanceUuid) {
      const token = `pnbt_${crypto.randomUUID().replaceAll("-", "")}`;
      tokens.set(instanceUuid, token);
      return token;
    },
    setDesiredState(state) {
      desired = create(DesiredStateSchema, state);
      for (const w of watchers) w();
    },
    failReports(n) {
      failReports = n;
    },
    refuseRenewalsUntil(until) {
      renewalsRefusedUntil = until.getTime();
    },
    refusedRenewals: () => refusedRenewals,
    async stop() {
      for (const w of watchers) w();
      for (const s of sessions) s.destroy();
      await new Promise<void>((resolve) => srv.close(() => resolve()));
    },
  };
}
