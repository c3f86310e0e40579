/**
 * OCI registries nodes pull module artifacts from besides the hub (an operator's registry, or a mirror
 * of one). The pull credential's secret is sealed (ca/key-at-rest.ts, context `registry:<host>`) and
 * handed only to nodes that pull from the registry (RegistryNodeService).
 */
import { integer, pgTable, text } from "drizzle-orm/pg-core";
import { timestamps } from "./common.ts";

export const registries = pgTable("registries", {
  /** `host[:port]`, lowercase, as artifact references name it. */
  host: text().primaryKey(),
  /** `http(s)://host[:port]`: where the hub and pnctl reach it. */
  url: text().notNull(),
  /** Where nodes reach it; null: `url`. */
  nodeUrl: text(),
  /** The origin registry's host this one mirrors; null: not a mirror. */
  mirrorOf: text(),
  /** Among the mirrors of one origin, lower is tried first. */
  priority: integer().notNull().default(0),
  /** Basic auth user of the pull credential; null with a bearer token or no credential. */
  username: text(),
  /** The password (basic) or bearer token, sealed; null: anonymous pulls. */
  secret: text(),
  /** PEM CA bundle for an https `nodeUrl`; null: the node's default roots. */
  caPem: text(),
  ...timestamps,
});
