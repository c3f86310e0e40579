/**
 * Connect's request gate: runs when a call's headers are in and before its body is read, decompressed
 * or parsed. It decides here what needs no body: the call rate (a token bucket per node, and per source
 * address for calls without a verified client certificate) and the credential of node and operator
 * methods. A refused call costs the hub its headers only. The auth interceptor checks again after the
 * body (cached, so nothing is looked up twice); it stays the one place for the rules the gate does not
 * know (e.g. which listener a public method may use).
 */
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import type { Deps } from "../deps.ts";
import { toConnectError } from "../errors.ts";
import type { Principal } from "../feature.ts";
import { normaliseAddress } from "../limits.ts";
import { kNodeIdentity, kOrigin } from "./context.ts";
import { bearerToken } from "./interceptors.ts";
import { methodName } from "./method-name.ts";
import { createTokenBuckets, type TokenBuckets } from "./token-bucket.ts";

/** One set of buckets per hub, shared by both listeners' gates. */
const bucketsByHub = new WeakMap<object, { nodes: TokenBuckets; anonymous: TokenBuckets }>();

/** The gate for the router options of both listeners. */
export function createRequestGate(
  deps: Pick<Deps, "config" | "metrics" | "nodeIdentity" | "adminAuth">,
  principals: ReadonlyMap<string, Principal>,
): (ctx: HandlerContext) => Promise<void> {
  const { limits } = deps.config;
  const { metrics } = deps;
  metrics.describe(
    "powernode_rate_limited_total",
    "counter",
    "Calls refused with resource_exhausted by the per-node or per-address rate limit, by method",
  );
  let buckets = bucketsByHub.get(deps.metrics);
  if (!buckets) {
    buckets = {
      nodes: createTokenBuckets({ perSecond: limits.nodeCallsPerSecond, burst: limits.nodeCallBurst }),
      anonymous: createTokenBuckets({
        perSecond: limits.anonymousCallsPerSecond,
        burst: limits.anonymousCallBurst,
      }),
    };
    bucketsByHub.set(deps.metrics, buckets);
  }
  const { nodes, anonymous } = buckets;
  const exempt = new Set(limits.exemptAddresses.map(normaliseAddress));

  /** Throws resource_exhausted when the caller is over its rate. */
  const limitRate = (method: string, ctx: HandlerContext) => {
    const origin = ctx.values.get(kOrigin);
    const peer = origin.listener === "mtls" && origin.peer?.authorized ? origin.peer : undefined;
    // CN of a certificate our CA signed is the node id; a revoked one still spends its node's tokens.
    if (peer?.commonName) {
      if (nodes.take(peer.commonName)) return;
      metrics.inc("powernode_rate_limited_total", { method });
      throw new ConnectError(
        `rate limit: node ${peer.commonName} is over ${limits.nodeCallsPerSecond} calls/s (burst ${limits.nodeCallBurst}); retry later`,
        Code.ResourceExhausted,
      );
    }
    const address = normaliseAddress(origin.remoteIp);
    if (exempt.has(address) || anonymous.take(address)) return;
    metrics.inc("powernode_rate_limited_total", { method });
    throw new ConnectError(
      `rate limit: address ${address} is over ${limits.anonymousCallsPerSecond} calls/s (burst ${limits.anonymousCallBurst}) without a client certificate; retry later`,
      Code.ResourceExhausted,
    );
  };

  const authenticate = async (principal: Principal, ctx: HandlerContext) => {
    if (principal === "node") {
      const origin = ctx.values.get(kOrigin);
      if (origin.listener !== "mtls") {
        throw new ConnectError(
          "client certificate: node methods need the mTLS listener",
          Code.Unauthenticated,
        );
      }
      ctx.values.set(kNodeIdentity, await deps.nodeIdentity.resolve(origin.peer));
    } else if (principal === "operator") {
      const token = bearerToken(ctx.requestHeader.get("authorization"));
      if (!token) throw new ConnectError("authorization: bearer token required", Code.Unauthenticated);
      if (!(await deps.adminAuth.verify(token)))
        throw new ConnectError("authorization: token not accepted", Code.Unauthenticated);
    }
  };

  return async (ctx) => {
    const method = methodName(ctx.method);
    const principal = principals.get(method);
    // Undeclared methods are refused by the auth interceptor, with its message.
    if (principal === undefined) return;
    // A refusal never reaches the interceptors, so the metrics interceptor does not see it: calls that
    // end before them are counted by the router's handler wrapper (decode-errors.ts).
    try {
      // Operators are not rate limited: their calls carry a token checked below.
      if (principal !== "operator") limitRate(method, ctx);
      await authenticate(principal, ctx);
    } catch (e) {
      throw toConnectError(e);
    }
  };
}
