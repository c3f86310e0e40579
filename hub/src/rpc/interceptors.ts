/**
 * The interceptors every route shares, outermost first: metrics (count + latency per method and code),
 * errors (DomainError -> Connect code by the one table; unexpected errors logged and answered Internal),
 * auth (the principal each feature declared for the method: public, node = mTLS identity, operator =
 * bearer token, peer-hub = a federation peer's client certificate; a method without a declared
 * principal is refused).
 */
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type { Deps } from "../deps.ts";
import { toConnectError } from "../errors.ts";
import type { Principal } from "../feature.ts";
import { resolvePeerHub } from "../federation/peer-identity.ts";
import type { Labels } from "../metrics/registry.ts";
import { kNodeIdentity, kOrigin, kPeerHub } from "./context.ts";
import { methodName } from "./method-name.ts";
import { whileIdentityHolds } from "./while-identity-holds.ts";

/** Counts calls and observes latency (unary: until the answer; streams: until the stream ends). */
export function createMetricsInterceptor(deps: Pick<Deps, "metrics">): Interceptor {
  const { metrics } = deps;
  metrics.describe("powernode_rpc_requests_total", "counter", "RPCs handled, by method and code");
  metrics.describe("powernode_rpc_duration_seconds", "histogram", "RPC latency in seconds, by method");
  // One label object per method (and per method and code): the registry renders each once.
  const byMethod = new Map<string, { method: Labels; codes: Map<string, Labels> }>();
  return (next) => async (req) => {
    const method = methodName(req.method);
    let labels = byMethod.get(method);
    if (!labels) {
      labels = { method: Object.freeze({ method }), codes: new Map() };
      byMethod.set(method, labels);
    }
    const { codes } = labels;
    const start = performance.now();
    const done = (code: string) => {
      let counted = codes.get(code);
      if (!counted) {
        counted = Object.freeze({ method, code });
        codes.set(code, counted);
      }
      metrics.inc("powernode_rpc_requests_total", counted);
      metrics.observe("powernode_rpc_duration_seconds", labels.method, (performance.now() - start) / 1000);
    };
    try {
      const res = await next(req);
      if (!res.stream) {
        done("ok");
        return res;
      }
      const inner = res.message;
      return {
        ...res,
        message: (async function* () {
          try {
            yield* inner;
            done("ok");
          } catch (e) {
            done(Code[toConnectError(e).code] ?? "unknown");
            throw e;
          }
        })(),
      };
    } catch (e) {
      done(Code[toConnectError(e).code] ?? "unknown");
      throw e;
    }
  };
}

/** Maps thrown errors to ConnectErrors and logs the unexpected ones with their cause. */
export function createErrorsInterceptor(deps: Pick<Deps, "log">): Interceptor {
  const log = deps.log.child({ component: "rpc" });
  const convert = (e: unknown, method: string): ConnectError => {
    const ce = toConnectError(e);
    if (ce.code === Code.Internal || ce.code === Code.Unknown) log.error("rpc failed", { method, error: e });
    return ce;
  };
  return (next) => async (req) => {
    const method = methodName(req.method);
    try {
      const res = await next(req);
      if (!res.stream) return res;
      const inner = res.message;
      return {
        ...res,
        message: (async function* () {
          try {
            yield* inner;
          } catch (e) {
            throw convert(e, method);
          }
        })(),
      };
    } catch (e) {
      throw convert(e, method);
    }
  };
}

/** Extracts the bearer token from an Authorization header. */
export function bearerToken(header: string | null): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  return m?.[1];
}

/**
 * Checks the credential the method's principal needs; sets the node identity for node methods, and
 * re-checks it on their open server streams (`whileIdentityHolds`, every identity-cache period).
 */
export function createAuthInterceptor(
  deps: Pick<Deps, "adminAuth" | "nodeIdentity" | "config" | "db">,
  principals: ReadonlyMap<string, Principal>,
): Interceptor {
  return (next) => async (req) => {
    const method = methodName(req.method);
    const principal = principals.get(method);
    if (principal === "public") return next(req);
    if (principal === "bootstrap") {
      if (req.contextValues.get(kOrigin).listener !== "mtls") {
        throw new ConnectError(
          `${req.method.name} is served only on the TLS listener ${deps.config.nodeUrl} (this plain-HTTP listener would carry the bootstrap token in clear)`,
          Code.FailedPrecondition,
        );
      }
      return next(req);
    }
    if (principal === "node") {
      const origin = req.contextValues.get(kOrigin);
      if (origin.listener !== "mtls") {
        throw new ConnectError(
          "client certificate: node methods need the mTLS listener",
          Code.Unauthenticated,
        );
      }
      // The request gate resolved it for this call already (same certificate, same moment).
      const identity = req.contextValues.get(kNodeIdentity) ?? (await deps.nodeIdentity.resolve(origin.peer));
      req.contextValues.set(kNodeIdentity, identity);
      const res = await next(req);
      if (!res.stream) return res;
      return {
        ...res,
        message: whileIdentityHolds(
          res.message,
          () => deps.nodeIdentity.resolve(origin.peer),
          deps.nodeIdentity.recheckMs,
        ),
      };
    }
    if (principal === "peer-hub") {
      const origin = req.contextValues.get(kOrigin);
      if (origin.listener !== "mtls")
        throw new ConnectError(
          "client certificate: peer-hub methods need the mTLS listener",
          Code.Unauthenticated,
        );
      const peer = await resolvePeerHub(deps.db, origin.peer);
      req.contextValues.set(kPeerHub, { peerId: peer.peerId, name: peer.name });
      return next(req);
    }
    if (principal !== "operator")
      throw new ConnectError(`${method}: no principal declared`, Code.PermissionDenied);
    const token = bearerToken(req.header.get("authorization"));
    if (!token) throw new ConnectError("authorization: bearer token required", Code.Unauthenticated);
    if (!(await deps.adminAuth.verify(token))) {
      throw new ConnectError("authorization: token not accepted", Code.Unauthenticated);
    }
    return next(req);
  };
}
