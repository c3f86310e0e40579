/**
 * Clients of another hub's FederationPeerService, on its TLS listener. `helloClient` does not verify
 * the server (it only fetches the CA, which the caller then pins to the token's fingerprint);
 * `pinnedClient` trusts only the peer's CA; `peerClient` adds this hub's peer-hub client certificate
 * (mutual TLS). Connect protocol over HTTP/1.1, one short call at a time, 10 s per call.
 */
import { type Client, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { FederationPeerService } from "@powernode/proto";
import type { Deps } from "../deps.ts";
import { DomainError } from "../errors.ts";
import { type PeerRow, peerKeyContext } from "./peers.ts";

export type PeerServiceClient = Client<typeof FederationPeerService>;

const CALL_TIMEOUT_MS = 10_000;

function client(url: string, tls: { ca?: string; cert?: string; key?: string; verify: boolean }) {
  const transport = createConnectTransport({
    baseUrl: url,
    httpVersion: "1.1",
    defaultTimeoutMs: CALL_TIMEOUT_MS,
    nodeOptions: {
      ...(tls.ca ? { ca: tls.ca } : {}),
      ...(tls.cert ? { cert: tls.cert, key: tls.key } : {}),
      rejectUnauthorized: tls.verify,
    },
  });
  return createClient(FederationPeerService, transport);
}

/** Unverified: only for Hello, whose answer (a CA) is checked against the token's pin. */
export function helloClient(url: string): PeerServiceClient {
  return client(url, { verify: false });
}

/** Trusts only `caPem` for the server. */
export function pinnedClient(url: string, caPem: string, cert?: { certPem: string; keyPem: string }) {
  return client(url, { ca: caPem, cert: cert?.certPem, key: cert?.keyPem, verify: true });
}

/** A mutual-TLS client of `row`'s hub with this hub's peer-hub certificate. */
export function peerClient(deps: Pick<Deps, "keys">, row: PeerRow): PeerServiceClient {
  if (!row.remoteCaPem || !row.clientCertPem || !row.clientKeyPem)
    throw new DomainError(
      "precondition",
      `peer ${row.name}: is ${row.state}, this hub holds no certificate for it yet`,
    );
  if (row.state === "revoked") throw new DomainError("precondition", `peer ${row.name}: revoked`);
  const keyPem = deps.keys.open(row.clientKeyPem, peerKeyContext(row.id));
  return pinnedClient(row.remoteUrl, row.remoteCaPem, { certPem: row.clientCertPem, keyPem });
}

/**
 * Runs a call to a peer; a refusal by the peer keeps the peer's code and says so, a network failure
 * is unavailable naming the URL.
 */
export async function callPeer<T>(
  row: Pick<PeerRow, "name" | "remoteUrl">,
  fn: () => Promise<T>,
): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof DomainError) throw e;
    if (e instanceof ConnectError) {
      throw new ConnectError(
        `peer ${row.name} (${row.remoteUrl}): ${e.rawMessage}`,
        e.code,
        undefined,
        undefined,
        e,
      );
    }
    throw new DomainError("unavailable", `peer ${row.name} (${row.remoteUrl}): ${String(e)}`, { cause: e });
  }
}
