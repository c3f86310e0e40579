/**
 * ConnectRPC (gRPC protocol over HTTP/2 + TLS) clients of the hub's agent listener. The hub's TLS
 * certificate must chain to the CA from the identity; with a node certificate the calls are mTLS.
 */
import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { NodeService } from "@powernode/proto";

export interface HubConnection {
  client: Client<typeof NodeService>;
  /** Closes the HTTP/2 connection (in-flight calls fail). */
  close(): void;
}

export interface HubConnectionOptions {
  platformUrl: string;
  /** CA PEM trusted for the hub's TLS certificate (only this, not the system store). */
  caPem: string;
  /** Client certificate for mTLS (every call but Enroll). */
  clientCert?: { certificatePem: string; keyPem: string };
  /** HTTP/2 PING interval to notice a dead hub on a quiet stream. Default 15 s. */
  pingIntervalMs?: number;
}

/** Opens (lazily) a connection to the hub. */
export function connectHub(opts: HubConnectionOptions): HubConnection {
  const tls = {
    ca: opts.caPem,
    ...(opts.clientCert ? { cert: opts.clientCert.certificatePem, key: opts.clientCert.keyPem } : {}),
  };
  const sessionManager = new Http2SessionManager(
    opts.platformUrl,
    { pingIntervalMs: opts.pingIntervalMs ?? 15_000, pingTimeoutMs: 10_000, pingIdleConnection: true },
    tls,
  );
  const transport = createGrpcTransport({ baseUrl: opts.platformUrl, sessionManager });
  return {
    client: createClient(NodeService, transport),
    close: () => sessionManager.abort(),
  };
}
