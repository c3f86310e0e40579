/**
 * Storage: NFS shares nodes mount over an overlay network. A `self_hosted` storage is exported by one
 * node of the network (its `export_host`); a `gateway_proxy` storage is an upstream NFS server outside
 * the mesh that a gateway node mounts and re-exports, so clients only ever see the gateway. Either
 * way the share is reached at a VIP of the network held by the exporting node, and only the overlay
 * addresses of the clients it is assigned to are in its export lines.
 */
import { index, pgEnum, pgTable, text, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { timestamps } from "./common.ts";
import { instances } from "./instances.ts";
import { networkVips } from "./network-vips.ts";
import { networks } from "./networks.ts";

export const storageShape = pgEnum("storage_shape", ["self_hosted", "gateway_proxy"]);
export const storageEncryption = pgEnum("storage_encryption", ["none", "fscrypt"]);

export const storages = pgTable("storages", {
  id: uuid().primaryKey().defaultRandom(),
  /** DNS-label name, unique. */
  name: text().notNull().unique(),
  /** Only `nfs` today. */
  kind: text().notNull().default("nfs"),
  shape: storageShape().notNull(),
  encryption: storageEncryption().notNull().default("none"),
  networkId: uuid()
    .notNull()
    .references(() => networks.id, { onDelete: "restrict" }),
  /** The node that exports the share: the server (self_hosted) or the gateway (gateway_proxy). */
  exportHostId: uuid()
    .notNull()
    .references(() => instances.id, { onDelete: "restrict" }),
  /** The directory exported on the export host (the re-export path for a gateway). */
  exportPath: text().notNull(),
  /** gateway_proxy: `host` and `path` of the upstream NFS server, and its mount options. */
  upstreamHost: text(),
  upstreamPath: text(),
  upstreamOptions: text(),
  /** The network VIP the share is reached at (held by the export host). */
  vipId: uuid().references(() => networkVips.id, { onDelete: "set null" }),
  /**
   * fscrypt only: the export directory's 64-byte master key, sealed (`storage:<id>:fscrypt-key`); the
   * export host's agent fetches it (StorageNodeService.GetExportKey), nobody else does.
   */
  encryptionKey: text(),
  ...timestamps,
});

export const storageAssignments = pgTable(
  "storage_assignments",
  {
    id: uuid().primaryKey().defaultRandom(),
    storageId: uuid()
      .notNull()
      .references(() => storages.id, { onDelete: "cascade" }),
    clientId: uuid()
      .notNull()
      .references(() => instances.id, { onDelete: "cascade" }),
    mountPath: text().notNull(),
    /** Mount options beyond the defaults (`vers=4.2,proto=tcp,hard`). */
    options: text().notNull().default(""),
    /** `inherit` (the storage's) or `none`. */
    encryption: text().notNull().default("inherit"),
    ...timestamps,
  },
  (t) => [uniqueIndex().on(t.storageId, t.clientId), index().on(t.clientId)],
);
