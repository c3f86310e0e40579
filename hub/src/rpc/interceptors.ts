/**
 * The interceptors every route shares, outermost first: metrics (count + latency per method and code),
 * errors (DomainError -> Connect code by the one table; unexpected errors logged and answered Internal),
 * auth (operator bearer token for Fleet/Catalog/Provision; mTLS node identity for NodeService but Enroll).
 */
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type { Deps } from "../deps.ts";
import { toConnectError } from "../errors.ts";
import { kNodeIdentity, kOrigin } from "./context.ts";

/** RPCs callable without any credential. */
const PUBLIC_METHODS = new Set(["powernode.v1.NodeService/Enroll"]);
const NODE_SERVICE = "powernode.v1.NodeService";

/** Counts calls and observes latency (unary: until the answer; streams: until the stream ends). */
export function createMetricsInterceptor(deps: Pick<Deps, "metrics">): Interceptor {
  const { metrics } = deps;
  metrics.describe("powernode_rpc_requests_total", "counter", "RPCs handled, by method and code");
  metrics.describe("powernode_rpc_duration_seconds", "histogram", "RPC latency in seconds, by method");
  return (next) => async (req) => {
    const method = `${req.service.typeName}/${req.method.name}`;
    const start = performance.now();
    const done = (code: string) => {
      metrics.inc("powernode_rpc_requests_total", { method, code });
      metrics.observe("powernode_rpc_duration_seconds", { method }, (performance.now() - start) / 1000);
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
    const method = `${req.service.typeName}/${req.method.name}`;
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

/** Checks credentials; sets the node identity for NodeService calls. */
export function createAuthInterceptor(deps: Pick<Deps, "adminAuth" | "nodeIdentity">): Interceptor {
  return (next) => async (req) => {
    const method = `${req.service.typeName}/${req.method.name}`;
    if (PUBLIC_METHODS.has(method)) return next(req);
    if (req.service.typeName === NODE_SERVICE) {
      const origin = req.contextValues.get(kOrigin);
      if (origin.listener !== "mtls") {
        throw new ConnectError(
          "client certificate: NodeService needs the mTLS listener",
          Code.Unauthenticated,
        );
      }
      const identity = await deps.nodeIdentity.resolve(origin.peer);
      req.contextValues.set(kNodeIdentity, identity);
      return next(req);
    }
    const token = bearerToken(req.header.get("authorization"));
    if (!token) throw new ConnectError("authorization: bearer token required", Code.Unauthenticated);
    if (!(await deps.adminAuth.verify(token))) {
      throw new ConnectError("authorization: token not accepted", Code.Unauthenticated);
    }
    return next(req);
  };
}
