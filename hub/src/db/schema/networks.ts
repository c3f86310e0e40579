/**
 * Overlay networks (the WireGuard mesh): networks with their constellation signing key, members
 * (a node's stable address, its WireGuard public key, endpoints and what it last observed) and
 * membership credentials. Only public keys of nodes are stored: a node's WireGuard private key never
 * leaves it. The constellation key is the hub's own, kept like the CA key.
 */
import { sql } from "drizzle-orm";
import {
  bigint,
  boolean,
  check,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";
import { timestamps } from "./common.ts";
import { instances } from "./instances.ts";

export const meshTopology = pgEnum("mesh_topology", ["full_mesh", "hub_and_spoke"]);

export const networks = pgTable("networks", {
  id: uuid().primaryKey().defaultRandom(),
  name: text().notNull().unique(),
  /** 6 hex characters, unique: the interface is `wg-sdwan-<handle>`. */
  handle: text().notNull().unique(),
  /** ULA /64, canonical text ("fd12:3456:789a:1::/64"). */
  prefix: text().notNull(),
  topology: meshTopology().notNull().default("full_mesh"),
  listenPort: integer().notNull().default(51820),
  mtu: integer().notNull().default(1420),
  /** Peer-list version: bumped (under this row's lock) by every change that reaches members. */
  version: bigint({ mode: "number" }).notNull().default(0),
  /**
   * The constellation key: Ed25519, PKCS#8 PEM (the hub's signing key) sealed with the hub's
   * key-encryption key (ca/key-at-rest.ts, context `network:<id>`), its raw public key (base64), handle.
   */
  signingKeyPem: text().notNull(),
  signingPublicKey: text().notNull(),
  constellationHandle: text().notNull(),
  /** An IPv4 CIDR the network lends to its flannel K3s clusters as their pod CIDR (k3s/pod-subnet.ts). */
  podSubnetPrefix: text(),
  /** The network's BGP AS number (its VRFs' `router bgp`); null: derived from its id (sdwan/vrf.ts). */
  bgpAsn: bigint({ mode: "number" }),
  ...timestamps,
});

/** One peer of one node, as the node reported it in a heartbeat. */
export interface PeerObservationDocument {
  publicKey: string;
  nodeId: string;
  endpoint: string;
  latestHandshakeUnix: number;
  rxBytes: number;
  txBytes: number;
}

export const networkMembers = pgTable(
  "network_members",
  {
    id: uuid().primaryKey().defaultRandom(),
    networkId: uuid()
      .notNull()
      .references(() => networks.id, { onDelete: "cascade" }),
    /** The node, for a node member; null for an operator peer (a machine without an agent). */
    instanceId: uuid().references(() => instances.id, { onDelete: "cascade" }),
    /**
     * An operator peer's name (`pnctl net join <network>`: the operator's machine, its own key); its id in
     * peer lists and credentials is the member id. Exactly one of instanceId and operatorName is set.
     */
    operatorName: text(),
    /** The stable overlay /128, canonical text without a length. */
    address: text().notNull(),
    hub: boolean().notNull().default(false),
    /** WireGuard public key (base64) once the node has reported it. */
    publicKey: text(),
    listenPort: integer(),
    endpoints: jsonb().$type<string[]>().notNull().default(sql`'[]'::jsonb`),
    /** The peers the node last reported, and when; `problem` if its interface is not as desired. */
    observed: jsonb().$type<PeerObservationDocument[]>().notNull().default(sql`'[]'::jsonb`),
    observedAt: timestamp({ withTimezone: true }),
    problem: text(),
    ...timestamps,
  },
  (t) => [
    uniqueIndex().on(t.networkId, t.instanceId),
    uniqueIndex().on(t.networkId, t.operatorName),
    uniqueIndex().on(t.networkId, t.address),
    index().on(t.instanceId),
    check("network_members_node_or_operator", sql`(${t.instanceId} is null) <> (${t.operatorName} is null)`),
  ],
);

export const credentialStatus = pgEnum("credential_status", ["active", "superseded", "revoked"]);

/** Membership credentials: an Ed25519-signed envelope per member, revisions increasing per member. */
export const membershipCredentials = pgTable(
  "membership_credentials",
  {
    id: uuid().primaryKey().defaultRandom(),
    networkId: uuid()
      .notNull()
      .references(() => networks.id, { onDelete: "cascade" }),
    memberId: uuid()
      .notNull()
      .references(() => networkMembers.id, { onDelete: "cascade" }),
    revision: bigint({ mode: "number" }).notNull(),
    status: credentialStatus().notNull().default("active"),
    /** The exact JSON string that was signed. */
    envelope: text().notNull(),
    /** Ed25519 signature over the envelope's UTF-8 bytes, base64. */
    signature: text().notNull(),
    notBefore: timestamp({ withTimezone: true }).notNull(),
    notAfter: timestamp({ withTimezone: true }).notNull(),
    refreshAfter: timestamp({ withTimezone: true }).notNull(),
    revokedAt: timestamp({ withTimezone: true }),
    ...timestamps,
  },
  (t) => [
    uniqueIndex("membership_credentials_one_active").on(t.memberId).where(sql`${t.status} = 'active'`),
    uniqueIndex().on(t.memberId, t.revision),
    index().on(t.networkId, t.status),
  ],
);
