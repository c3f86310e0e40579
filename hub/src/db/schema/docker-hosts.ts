/**
 * Managed Docker hosts: one per node, dockerd listening with TLS on the node's overlay address. The
 * daemon's key stays on the node (the hub signs its CSR); the hub's own client key for talking to the
 * daemons is stored sealed (ca/key-at-rest.ts, context `docker-host:<id>`).
 */
import { boolean, pgEnum, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";
import { timestamps } from "./common.ts";
import { instances } from "./instances.ts";
import { networks } from "./networks.ts";

export const dockerHostStatus = pgEnum("docker_host_status", ["pending", "connected", "disconnected"]);

export const dockerHosts = pgTable("docker_hosts", {
  id: uuid().primaryKey().defaultRandom(),
  instanceId: uuid()
    .notNull()
    .unique()
    .references(() => instances.id, { onDelete: "cascade" }),
  /** The overlay network whose address the daemon listens on. */
  networkId: uuid()
    .notNull()
    .references(() => networks.id, { onDelete: "cascade" }),
  /** The node's /128 in that network, canonical text. */
  listenAddress: text().notNull(),
  /** `tcp://[<listenAddress>]:2376`. */
  apiEndpoint: text().notNull(),
  status: dockerHostStatus().notNull().default("pending"),
  managed: boolean().notNull().default(true),
  dockerVersion: text(),
  daemonReadyAt: timestamp({ withTimezone: true }),
  daemonCertSerial: text(),
  daemonCertNotAfter: timestamp({ withTimezone: true }),
  /** The hub's client certificate for this daemon (PEM) and its key, sealed. */
  clientCertPem: text().notNull(),
  clientKeyPem: text().notNull(),
  clientCertSerial: text().notNull(),
  clientCertNotAfter: timestamp({ withTimezone: true }).notNull(),
  /** What the node last said went wrong (null while the daemon runs). */
  lastError: text(),
  lastReportAt: timestamp({ withTimezone: true }),
  ...timestamps,
});
