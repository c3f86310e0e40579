/**
 * ConnectRPC (gRPC protocol over HTTP/2 + TLS) clients of the hub's agent listener. The hub's TLS
 * certificate must chain to the CA from the identity; with a node certificate the calls are mTLS.
 */
import { type Client, createClient } from "@connectrpc/connect";
import { createConnectTransport, Http2SessionManager } from "@connectrpc/connect-node";
import {
  DockerNodeService,
  K3sNodeService,
  MeshSyncService,
  NodeService,
  RegistryNodeService,
  StorageNodeService,
} from "@powernode/proto";

export interface HubConnection {
  /** The hub this connection goes to (`https://host:port`). */
  url: string;
  client: Client<typeof NodeService>;
  /** The mesh peer lists (MeshSyncService), on the same connection. */
  mesh: Client<typeof MeshSyncService>;
  /** The node's managed Docker host (DockerNodeService), on the same connection. */
  docker: Client<typeof DockerNodeService>;
  /** The node's K3s cluster (K3sNodeService), on the same connection. */
  k3s: Client<typeof K3sNodeService>;
  /** Pull credentials of the registries in the node's module locations (RegistryNodeService). */
  registry: Client<typeof RegistryNodeService>;
  /** Keys of the encrypted exports this node serves (StorageNodeService). */
  storage: Client<typeof StorageNodeService>;
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

/**
 * The session's current mTLS connection; replaced when the certificate is renewed. Loops fetch
 * `current()` for every call, and a stream broken by a replacement reconnects without complaint.
 */
export interface HubLink {
  current(): HubConnection;
  /** Bumped by each `replace`. */
  generation(): number;
  /** Switches to `next` and closes the previous connection. */
  replace(next: HubConnection): void;
  /**
   * Moves to the next hub of a scaled-out hub when the connection of `generation` is still the
   * current one (two callers seeing one failure move it once); false when there is no other hub.
   */
  failover(generation: number): boolean;
  close(): void;
}

/** A link starting at `first`; `next` opens the connection to the next hub (none: a single hub). */
export function createHubLink(first: HubConnection, next?: () => HubConnection): HubLink {
  let conn = first;
  let gen = 0;
  const link: HubLink = {
    current: () => conn,
    generation: () => gen,
    replace(n) {
      const old = conn;
      conn = n;
      gen++;
      old.close();
    },
    failover(generation) {
      if (!next || generation !== gen) return false;
      link.replace(next());
      return true;
    },
    close: () => conn.close(),
  };
  return link;
}

/** Opens (lazily) a connection to the hub. */
export function connectHub(opts: HubConnectionOptions): HubConnection {
  const tls = {
    ca: opts.caPem,
    ...(opts.clientCert ? { cert: opts.clientCert.certificatePem, key: opts.clientCert.keyPem } : {}),
  };
  // PINGs only while a stream is open (the desired-state watch nearly always is); an idle connection
  // is checked with a PING before its next use anyway. With idle PINGs, a connection closed by `close()`
  // (a renewal's replacement, a stop) could re-arm its PING timer when its last stream closed and then
  // throw "The session has been destroyed" from that timer, outside any call.
  const sessionManager = new Http2SessionManager(
    opts.platformUrl,
    { pingIntervalMs: opts.pingIntervalMs ?? 15_000, pingTimeoutMs: 10_000, pingIdleConnection: false },
    tls,
  );
  // Connect's binary protocol over the HTTP/2 session: the hub serves its unary node calls on a direct
  // path (hub/src/rpc/node-unary.ts, decision 0029); streams are Connect streams on the same session.
  const transport = createConnectTransport({
    baseUrl: opts.platformUrl,
    httpVersion: "2",
    useBinaryFormat: true,
    sessionManager,
  });
  return {
    url: opts.platformUrl,
    client: createClient(NodeService, transport),
    mesh: createClient(MeshSyncService, transport),
    docker: createClient(DockerNodeService, transport),
    k3s: createClient(K3sNodeService, transport),
    registry: createClient(RegistryNodeService, transport),
    storage: createClient(StorageNodeService, transport),
    close: () => sessionManager.abort(),
  };
}
