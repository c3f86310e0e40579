/**
 * The `peer-hub` principal: a call on the TLS listener whose client certificate verifies against this
 * hub's CA (TLS checked it) and whose serial is the one this hub issued to an accepted or active peer,
 * with CN `peer-hub:<that peer's id>`. Read from the database on every call (peer calls are few), so a
 * revocation refuses the very next call. A node's certificate has no peer row and is refused here, as a
 * peer's certificate has no `certificates` row and is refused by the node identity.
 */
import { eq } from "drizzle-orm";
import type { PeerCertificate } from "../auth/node-identity.ts";
import { normaliseSerial } from "../ca/ca.ts";
import type { Db } from "../db/client.ts";
import { federationPeers } from "../db/schema/index.ts";
import { DomainError } from "../errors.ts";
import { type PeerRow, peerBySerial } from "./peers.ts";

/** An authenticated peer hub. */
export interface PeerHubIdentity {
  peerId: string;
  name: string;
  state: PeerRow["state"];
}

/** Resolves the caller of a peer-hub method or throws why it is not one. */
export async function resolvePeerHub(
  db: Db,
  peer: PeerCertificate | undefined,
  now = new Date(),
): Promise<PeerHubIdentity> {
  if (!peer?.serial)
    throw new DomainError(
      "unauthenticated",
      "client certificate: peer-hub methods need a peer hub's certificate",
    );
  if (!peer.authorized)
    throw new DomainError(
      "unauthenticated",
      `client certificate: does not verify against this hub's CA (${peer.authorizationError ?? "unverified"})`,
    );
  const row = await peerBySerial(db, normaliseSerial(peer.serial));
  if (!row) throw new DomainError("permission", "client certificate: not issued to a federation peer");
  if (peer.commonName !== `peer-hub:${row.id}`)
    throw new DomainError("permission", "client certificate: CN does not match the peer record");
  if (row.state === "revoked")
    throw new DomainError(
      "permission",
      `federation peer ${row.name}: revoked at ${row.revokedAt?.toISOString() ?? "?"}`,
    );
  if (row.state !== "accepted" && row.state !== "active")
    throw new DomainError("permission", `federation peer ${row.name}: is ${row.state}`);
  if (!row.issuedNotAfter || row.issuedNotAfter.getTime() <= now.getTime())
    throw new DomainError("unauthenticated", "client certificate: expired");
  await db.update(federationPeers).set({ lastSeenAt: now }).where(eq(federationPeers.id, row.id));
  return { peerId: row.id, name: row.name, state: row.state };
}
