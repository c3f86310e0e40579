/** Connect context keys the listeners and the auth interceptor fill in. */
import { createContextKey, type HandlerContext } from "@connectrpc/connect";
import type { NodeIdentity, PeerCertificate } from "../auth/node-identity.ts";
import { DomainError } from "../errors.ts";

/** Which listener a call came in on. */
export type Listener = "http" | "mtls";

/** Facts about the transport, set by the listener adapter. */
export interface CallOrigin {
  listener: Listener;
  remoteIp: string | undefined;
  /** The TLS client certificate (mTLS listener only). */
  peer: PeerCertificate | undefined;
}

export const kOrigin = createContextKey<CallOrigin>(
  { listener: "http", remoteIp: undefined, peer: undefined },
  {
    description: "call origin",
  },
);

/** Set by the auth interceptor for NodeService calls other than Enroll. */
export const kNodeIdentity = createContextKey<NodeIdentity | undefined>(undefined, {
  description: "node identity",
});

/** Set by the auth interceptor for `peer-hub` methods: the federation peer calling (its row's id and name). */
export const kPeerHub = createContextKey<{ peerId: string; name: string } | undefined>(undefined, {
  description: "peer hub identity",
});

/** The authenticated peer hub of a `peer-hub` call; throws if the interceptor did not set one. */
export function requirePeerHub(ctx: HandlerContext): { peerId: string; name: string } {
  const id = ctx.values.get(kPeerHub);
  if (!id) throw new DomainError("unauthenticated", "client certificate: a peer hub's is required");
  return id;
}

/** The authenticated node of a NodeService call; throws if the interceptor did not set one. */
export function requireNode(ctx: HandlerContext): NodeIdentity {
  const id = ctx.values.get(kNodeIdentity);
  if (!id) throw new DomainError("unauthenticated", "client certificate: required");
  return id;
}
