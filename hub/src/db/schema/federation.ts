/**
 * Federation peers (hub/src/federation): one row per peering with another hub, on each side. The
 * acceptance token is stored only as SHA-256; the client key this hub uses to call the peer is sealed
 * (ca/key-at-rest.ts, context `federation-peer:<id>`). The certificate this hub issued to the peer is
 * named by its serial: a peer-hub call is accepted only when its client certificate's serial is that of
 * an accepted or active, unrevoked row.
 */
import { index, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";
import { timestamps } from "./common.ts";

export const federationPeers = pgTable(
  "federation_peers",
  {
    id: uuid().primaryKey().defaultRandom(),
    /** The operator's name for the peer, unique on this hub. */
    name: text().notNull().unique(),
    /** `proposer`: this hub issued the token; `acceptor`: it accepted the other hub's. */
    role: text().$type<"proposer" | "acceptor">().notNull(),
    state: text().$type<"proposed" | "accepted" | "active" | "revoked">().notNull(),
    /** The peer's TLS listener, where this hub calls it. */
    remoteUrl: text().notNull(),
    remoteHubName: text().notNull().default(""),
    /** The peer's CA certificate: the trust anchor for its server certificate. */
    remoteCaPem: text(),
    /** SHA-256 hex of that certificate's DER. */
    remoteCaSha256: text(),
    /** SHA-256 hex of the acceptance token (proposer rows). */
    tokenHash: text().unique(),
    tokenExpiresAt: timestamp({ withTimezone: true }),
    tokenUsedAt: timestamp({ withTimezone: true }),
    /** Serial (normalised hex) of the peer-hub certificate this hub's CA issued to the peer. */
    issuedSerial: text().unique(),
    issuedNotAfter: timestamp({ withTimezone: true }),
    /** The certificate the peer's CA issued to this hub, and its key (sealed). */
    clientCertPem: text(),
    clientKeyPem: text(),
    acceptedAt: timestamp({ withTimezone: true }),
    revokedAt: timestamp({ withTimezone: true }),
    revokedReason: text().notNull().default(""),
    lastSeenAt: timestamp({ withTimezone: true }),
    ...timestamps,
  },
  (t) => [index().on(t.state)],
);
