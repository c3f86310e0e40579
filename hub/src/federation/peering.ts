/**
 * A peering from both sides. Hub A (proposer) issues a token; hub B (acceptor) accepts it:
 *   1. B reads the token (A's URL and CA fingerprint), calls A's Hello unverified and pins the CA it
 *      gets to the fingerprint; every later call to A trusts only that CA.
 *   2. B calls A's Accept with the token, B's CA, B's URL and a CSR; A consumes the token, issues B a
 *      peer-hub certificate from A's CA and answers with it and a CSR of A's own (A: accepted).
 *   3. B issues A's certificate from B's CA and calls A's Complete with it, now over mutual TLS with the
 *      certificate A gave it (A: active); then B marks its row active.
 * Revocation is local and immediate; the other hub is told best effort.
 */
import { randomUUID } from "node:crypto";
import { ConnectError } from "@connectrpc/connect";
import { EVENTS } from "@powernode/proto";
import { parseCsr } from "../ca/csr.ts";
import type { Deps } from "../deps.ts";
import { DomainError } from "../errors.ts";
import { nameField, textField } from "../rpc/fields.ts";
import { newPeerKey, PEER_CSR_CN } from "./client-key.ts";
import { callPeer, helloClient, peerClient, pinnedClient } from "./peer-client.ts";
import { hubNameOf } from "./peer-reads.ts";
import {
  consumeAcceptanceToken,
  insertAcceptance,
  insertProposal,
  type PeerRow,
  peerKeyContext,
  transition,
} from "./peers.ts";
import { caFingerprint, newAcceptanceToken, parseAcceptanceToken, peerUrlField } from "./token.ts";

type FedDeps = Pick<Deps, "db" | "ca" | "keys" | "events" | "config">;

/** Step 0 (A): a proposed row and its token (plaintext returned once). */
export async function propose(
  deps: FedDeps,
  input: { name: string; remoteUrl: string; localUrl: string },
): Promise<{ row: PeerRow; token: string }> {
  const remoteUrl = peerUrlField("remote_url", input.remoteUrl);
  const localUrl = peerUrlField("local_url", input.localUrl || deps.config.nodeUrl);
  const token = newAcceptanceToken({ url: localUrl, caSha256: caFingerprint(deps.ca.certPem) });
  const row = await insertProposal(deps.db, { name: input.name, remoteUrl, token });
  await deps.events.emit(EVENTS.federationPeerProposed, {
    peer_id: row.id,
    name: row.name,
    remote_url: remoteUrl,
    token_expires_at: row.tokenExpiresAt?.toISOString(),
  });
  return { row, token };
}

/** Step 2 (A): serves B's Accept. */
export async function serveAccept(
  deps: FedDeps,
  req: { token: string; hubName: string; caPem: string; url: string; csrPem: string },
) {
  const token = textField("token", req.token, { required: true, max: 2048 }).trim();
  parseAcceptanceToken(token);
  const caPem = textField("ca_pem", req.caPem, { required: true, max: 64 * 1024 });
  const caSha256 = caFingerprint(caPem);
  const hubName = textField("hub_name", req.hubName, { max: 253 });
  const csr = await parseCsr(req.csrPem, PEER_CSR_CN, "csr_pem", `"${PEER_CSR_CN}"`);
  if (!csr.ok) throw new DomainError("invalid_argument", csr.error);
  const row = await consumeAcceptanceToken(deps.db, token);
  const issued = await deps.ca.issuePeerHubCertificate(csr.value, row.id);
  const own = await newPeerKey();
  const now = new Date();
  await transition(deps.db, row.id, ["proposed"], {
    state: "accepted",
    remoteHubName: hubName,
    remoteCaPem: caPem,
    remoteCaSha256: caSha256,
    issuedSerial: issued.serial,
    issuedNotAfter: issued.notAfter,
    clientKeyPem: deps.keys.seal(own.keyPem, peerKeyContext(row.id)),
    acceptedAt: now,
  });
  return { peerId: row.id, hubName: hubNameOf(deps.config), clientCertPem: issued.pem, csrPem: own.csrPem };
}

/** Step 3 (A): B hands us the certificate its CA issued for us. */
export async function serveComplete(deps: FedDeps, peerId: string, clientCertPem: string): Promise<PeerRow> {
  const pem = textField("client_cert_pem", clientCertPem, { required: true, max: 64 * 1024 });
  caFingerprint(pem, "client_cert_pem");
  const row = await transition(deps.db, peerId, ["accepted"], { state: "active", clientCertPem: pem });
  await deps.events.emit(EVENTS.federationPeerAccepted, {
    peer_id: row.id,
    name: row.name,
    role: row.role,
    remote_url: row.remoteUrl,
    remote_ca_sha256: row.remoteCaSha256,
  });
  return row;
}

/** Steps 1-3 (B): accepts A's token. */
export async function accept(
  deps: FedDeps,
  input: { token: string; name: string; localUrl: string },
): Promise<PeerRow> {
  const token = input.token.trim();
  const payload = parseAcceptanceToken(token);
  const localUrl = peerUrlField("local_url", input.localUrl || deps.config.nodeUrl);
  const where = { name: input.name || "proposer", remoteUrl: payload.url };
  const hello = await callPeer(where, () => helloClient(payload.url).hello({}));
  const got = caFingerprint(hello.caPem, "hello.ca_pem");
  if (got !== payload.caSha256)
    throw new DomainError(
      "permission",
      `token: the hub at ${payload.url} presents CA ${got.slice(0, 16)}..., the token names ${payload.caSha256.slice(0, 16)}... (not the hub that issued it)`,
    );
  const name = nameField("name", input.name || safeName(hello.hubName), "peer name");
  const own = await newPeerKey();
  const answer = await callPeer(where, () =>
    pinnedClient(payload.url, hello.caPem).accept({
      token,
      hubName: hubNameOf(deps.config),
      caPem: deps.ca.certPem,
      url: localUrl,
      csrPem: own.csrPem,
    }),
  );
  const csr = await parseCsr(answer.csrPem, PEER_CSR_CN, "csr_pem", `"${PEER_CSR_CN}"`);
  if (!csr.ok) throw new DomainError("invalid_argument", `the proposer's ${csr.error}`);
  const id = randomUUID();
  const issued = await deps.ca.issuePeerHubCertificate(csr.value, id);
  const accepted = await insertAcceptance(deps.db, {
    id,
    name,
    remoteUrl: payload.url,
    remoteHubName: hello.hubName,
    remoteCaPem: hello.caPem,
    remoteCaSha256: got,
    clientCertPem: answer.clientCertPem,
    clientKeyPem: deps.keys.seal(own.keyPem, peerKeyContext(id)),
    issuedSerial: issued.serial,
    issuedNotAfter: issued.notAfter,
    acceptedAt: new Date(),
  });
  await callPeer(accepted, () => peerClient(deps, accepted).complete({ clientCertPem: issued.pem }));
  return serveComplete(deps, id, answer.clientCertPem);
}

/** Revokes `row` (terminal) and tells the peer, best effort; returns the row and whether it was told. */
export async function revoke(
  deps: FedDeps,
  row: PeerRow,
  reason: string,
  notify: boolean,
): Promise<{ row: PeerRow; notified: boolean }> {
  let notified = false;
  if (notify && row.state !== "proposed" && row.state !== "revoked" && row.clientCertPem) {
    try {
      await peerClient(deps, row).revoked({ reason });
      notified = true;
    } catch (e) {
      if (!(e instanceof ConnectError || e instanceof DomainError)) throw e;
    }
  }
  const revoked = await transition(deps.db, row.id, ["proposed", "accepted", "active"], {
    state: "revoked",
    revokedAt: new Date(),
    revokedReason: reason,
  });
  await deps.events.emit(EVENTS.federationPeerRevoked, {
    peer_id: revoked.id,
    name: revoked.name,
    reason,
    by: notify ? "operator" : "peer",
    peer_notified: notified,
  });
  return { row: revoked, notified };
}

/** A hub name as a peer name (`127.0.0.1:8443` -> `127-0-0-1-8443`). */
function safeName(hubName: string): string {
  const s = hubName
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 63);
  return s.replace(/-+$/, "") || "peer";
}
