/**
 * Storages and their assignments: an NFS share on an overlay network, reached at a VIP the exporting
 * node holds (`storage-<name>`), mounted by the clients it is assigned to. Every change recompiles the
 * desired state of the nodes it concerns (the export host and the client).
 */
import { randomBytes } from "node:crypto";
import { EVENTS } from "@powernode/proto";
import { and, asc, eq, inArray, or } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { instances, networkMembers, networks, storageAssignments, storages } from "../db/schema/index.ts";
import type { Deps } from "../deps.ts";
import type { Tx } from "../desired-state/index.ts";
import { DomainError } from "../errors.ts";
import { interfaceName } from "../network/addresses.ts";
import { changeNetwork, resolveNetwork } from "../network/networks.ts";
import { peerChangeOf } from "../network/peers.ts";
import { createVip, deleteVip, getVip, vipAddress } from "../network/vips.ts";
import { HOST_OR_ADDRESS_RE, isUuid } from "../rpc/fields.ts";
import type { StorageView } from "./section.ts";

export type StorageRow = typeof storages.$inferSelect;
export type AssignmentRow = typeof storageAssignments.$inferSelect;

const PATH_RE = /^\/[A-Za-z0-9._/-]{0,254}$/;
const OPTIONS_RE = /^[a-z0-9_]+(=[A-Za-z0-9._:-]+)?(,[a-z0-9_]+(=[A-Za-z0-9._:-]+)?)*$/;

/** An absolute path without `..`, spaces or shell/exports metacharacters. */
export function pathField(field: string, v: string): string {
  if (!PATH_RE.test(v) || v.split("/").includes(".."))
    throw new DomainError(
      "invalid_argument",
      `${field}: "${v.slice(0, 100)}" is not an absolute path of A-Z a-z 0-9 . _ - /`,
    );
  return v.length > 1 ? v.replace(/\/+$/, "") : v;
}

/** Mount options as `a,b=c` (empty allowed). */
export function optionsField(field: string, v: string): string {
  if (v !== "" && (v.length > 256 || !OPTIONS_RE.test(v)))
    throw new DomainError(
      "invalid_argument",
      `${field}: "${v.slice(0, 100)}" is not a comma-separated option list`,
    );
  return v;
}

type StorageDeps = Pick<Deps, "db" | "events" | "desiredState" | "cluster" | "keys">;

/** The sealing context of a storage's fscrypt master key. */
export const fscryptKeyContext = (storageId: string) => `storage:${storageId}:fscrypt-key`;
/** fscrypt v2 master keys: 64 random bytes (AES-256-XTS needs 512 bits of key material). */
export const FSCRYPT_KEY_BYTES = 64;

/** A storage by id or name. */
export async function resolveStorage(db: Db | Tx, ref: string, field = "storage"): Promise<StorageRow> {
  if (ref === "") throw new DomainError("invalid_argument", `${field}: required (an id or a name)`);
  const where = isUuid(ref.toLowerCase()) ? eq(storages.id, ref.toLowerCase()) : eq(storages.name, ref);
  const [row] = await db.select().from(storages).where(where);
  if (!row) throw new DomainError("not_found", `${field}: no storage "${ref.slice(0, 100)}"`);
  return row;
}

async function memberOf(tx: Db | Tx, networkId: string, nodeId: string) {
  const [m] = await tx
    .select()
    .from(networkMembers)
    .where(and(eq(networkMembers.networkId, networkId), eq(networkMembers.instanceId, nodeId)));
  return m;
}

export interface CreateStorageInput {
  name: string;
  shape: "self_hosted" | "gateway_proxy";
  network: string;
  exportHostId: string;
  exportPath: string;
  encryption: "none" | "fscrypt";
  upstreamHost?: string;
  upstreamPath?: string;
  upstreamOptions?: string;
}

/** Creates a storage and its VIP on the export host; the host's desired state gets the export. */
export async function createStorage(deps: StorageDeps, input: CreateStorageInput): Promise<StorageRow> {
  const exportPath = pathField("export_path", input.exportPath);
  let upstream: { host: string; path: string; options: string | null } | undefined;
  if (input.shape === "gateway_proxy") {
    const host = input.upstreamHost ?? "";
    if (!HOST_OR_ADDRESS_RE.test(host) || host.length > 253)
      throw new DomainError(
        "invalid_argument",
        `upstream_host: "${host.slice(0, 100)}" is not a host name or address`,
      );
    upstream = {
      host,
      path: pathField("upstream_path", input.upstreamPath ?? ""),
      options: optionsField("upstream_options", input.upstreamOptions ?? "") || null,
    };
  } else if (input.upstreamHost || input.upstreamPath)
    throw new DomainError("invalid_argument", "upstream_host: only a gateway_proxy storage has an upstream");
  // A network change: the VIP is routed to the export host in its peers' AllowedIPs at commit.
  const network = await resolveNetwork(deps.db, input.network);
  const row = await changeNetwork(deps, network.id, async (tx) => {
    const host = await memberOf(tx, network.id, input.exportHostId);
    if (!host)
      throw new DomainError(
        "precondition",
        `export_host_id: node ${input.exportHostId} is not a member of network ${network.name} (join it first)`,
      );
    const [clash] = await tx.select({ id: storages.id }).from(storages).where(eq(storages.name, input.name));
    if (clash) throw new DomainError("already_exists", `name: storage "${input.name}" exists`);
    const vipName = `storage-${input.name}`;
    const vip = await createVip(tx, {
      networkId: network.id,
      name: vipName,
      address: vipAddress(network.prefix, vipName),
      holderMemberIds: [host.id],
    });
    const id = crypto.randomUUID();
    const key =
      input.encryption === "fscrypt"
        ? deps.keys.seal(randomBytes(FSCRYPT_KEY_BYTES).toString("base64"), fscryptKeyContext(id))
        : null;
    const [created] = await tx
      .insert(storages)
      .values({
        id,
        encryptionKey: key,
        name: input.name,
        shape: input.shape,
        encryption: input.encryption,
        networkId: network.id,
        exportHostId: input.exportHostId,
        exportPath,
        upstreamHost: upstream?.host ?? null,
        upstreamPath: upstream?.path ?? null,
        upstreamOptions: upstream?.options ?? null,
        vipId: vip.id,
      })
      .returning();
    if (!created) throw new Error(`creating storage ${input.name}: no row returned`);
    const change = await peerChangeOf(tx, host.id);
    return { result: created, changes: change ? [change] : [] };
  });
  await deps.events.emit(
    EVENTS.storageCreated,
    { storage: row.name, shape: row.shape, exportPath: row.exportPath, encryption: row.encryption },
    { nodeId: row.exportHostId },
  );
  await deps.desiredState.change(row.exportHostId);
  return row;
}

export function listStorages(db: Db): Promise<StorageRow[]> {
  return db.select().from(storages).orderBy(asc(storages.name));
}

export function assignmentsOf(db: Db | Tx, storageId: string): Promise<AssignmentRow[]> {
  return db
    .select()
    .from(storageAssignments)
    .where(eq(storageAssignments.storageId, storageId))
    .orderBy(asc(storageAssignments.createdAt));
}

/** Refused while clients are assigned; removes the VIP and the export. */
export async function deleteStorage(deps: StorageDeps, ref: string): Promise<void> {
  const s = await resolveStorage(deps.db, ref);
  const assigned = await assignmentsOf(deps.db, s.id);
  if (assigned.length > 0)
    throw new DomainError(
      "precondition",
      `storage: ${s.name} is assigned to ${assigned.length} client(s); unassign them first`,
    );
  await changeNetwork(deps, s.networkId, async (tx) => {
    const vip = s.vipId ? await getVip(tx, s.vipId) : undefined;
    await tx.delete(storages).where(eq(storages.id, s.id));
    if (!vip) return { result: undefined, changes: [] };
    await deleteVip(tx, vip.id);
    const change = vip.holderMemberIds[0] ? await peerChangeOf(tx, vip.holderMemberIds[0]) : undefined;
    return { result: undefined, changes: change ? [change] : [] };
  });
  await deps.events.emit(EVENTS.storageDeleted, { storage: s.name }, { nodeId: s.exportHostId });
  await deps.desiredState.change(s.exportHostId);
}

export interface AssignInput {
  storage: string;
  clientId: string;
  mountPath: string;
  options: string;
  encryption: "inherit" | "none";
}

/** Grants a client the share: its export line on the host, its mount on the client (idempotent). */
export async function assignStorage(
  deps: StorageDeps,
  input: AssignInput,
): Promise<{ assignment: AssignmentRow; storage: StorageRow; created: boolean }> {
  const mountPath = pathField("mount_path", input.mountPath);
  const options = optionsField("options", input.options);
  const out = await deps.db.transaction(async (tx) => {
    const s = await resolveStorage(tx, input.storage);
    if (input.clientId === s.exportHostId)
      throw new DomainError("invalid_argument", "client_id: the export host does not mount its own share");
    const [network] = await tx.select().from(networks).where(eq(networks.id, s.networkId));
    if (!(await memberOf(tx, s.networkId, input.clientId)))
      throw new DomainError(
        "precondition",
        `client_id: node ${input.clientId} is not a member of network ${network?.name ?? s.networkId}`,
      );
    const values = {
      storageId: s.id,
      clientId: input.clientId,
      mountPath,
      options,
      encryption: input.encryption,
    };
    const [old] = await tx
      .select()
      .from(storageAssignments)
      .where(and(eq(storageAssignments.storageId, s.id), eq(storageAssignments.clientId, input.clientId)));
    const [row] = await tx
      .insert(storageAssignments)
      .values(values)
      .onConflictDoUpdate({
        target: [storageAssignments.storageId, storageAssignments.clientId],
        set: { mountPath, options, encryption: input.encryption, updatedAt: new Date() },
      })
      .returning();
    if (!row) throw new Error("assigning storage: no row returned");
    return { assignment: row, storage: s, created: !old };
  });
  await deps.events.emit(
    EVENTS.storageAssigned,
    { storage: out.storage.name, mountPath, encryption: input.encryption },
    { nodeId: input.clientId },
  );
  await deps.desiredState.change(out.storage.exportHostId);
  await deps.desiredState.change(input.clientId);
  return out;
}

export async function unassignStorage(deps: StorageDeps, ref: string, clientId: string): Promise<void> {
  const s = await resolveStorage(deps.db, ref);
  const gone = await deps.db
    .delete(storageAssignments)
    .where(and(eq(storageAssignments.storageId, s.id), eq(storageAssignments.clientId, clientId)))
    .returning({ id: storageAssignments.id });
  if (gone.length === 0)
    throw new DomainError("not_found", `client_id: ${s.name} is not assigned to ${clientId}`);
  await deps.events.emit(EVENTS.storageUnassigned, { storage: s.name }, { nodeId: clientId });
  await deps.desiredState.change(s.exportHostId);
  await deps.desiredState.change(clientId);
}

/** What the section compiler needs for `nodeId`: every storage it exports or is assigned. */
export async function storageViewsFor(tx: Db | Tx, nodeId: string): Promise<StorageView[]> {
  const mine = await tx
    .select({ storageId: storageAssignments.storageId })
    .from(storageAssignments)
    .where(eq(storageAssignments.clientId, nodeId));
  const ids = mine.map((m) => m.storageId);
  const rows = await tx
    .select()
    .from(storages)
    .where(
      ids.length > 0
        ? or(eq(storages.exportHostId, nodeId), inArray(storages.id, ids))
        : eq(storages.exportHostId, nodeId),
    );
  const out: StorageView[] = [];
  for (const s of rows) {
    const [network] = await tx.select().from(networks).where(eq(networks.id, s.networkId));
    const vip = s.vipId ? await getVip(tx, s.vipId) : undefined;
    if (!network || !vip) continue;
    const clients = await tx
      .select({ a: storageAssignments, address: networkMembers.address, state: instances.state })
      .from(storageAssignments)
      .innerJoin(
        networkMembers,
        and(
          eq(networkMembers.networkId, s.networkId),
          eq(networkMembers.instanceId, storageAssignments.clientId),
        ),
      )
      .innerJoin(instances, eq(instances.id, storageAssignments.clientId))
      .where(eq(storageAssignments.storageId, s.id));
    out.push({
      id: s.id,
      name: s.name,
      shape: s.shape,
      encryption: s.encryption,
      exportHostId: s.exportHostId,
      exportPath: s.exportPath,
      upstreamHost: s.upstreamHost,
      upstreamPath: s.upstreamPath,
      upstreamOptions: s.upstreamOptions,
      vip: vip.address,
      interfaceName: interfaceName(network.handle),
      clients: clients
        .filter((c) => c.state !== "deleted")
        .map((c) => ({
          nodeId: c.a.clientId,
          address: c.address,
          mountPath: c.a.mountPath,
          options: c.a.options,
          encryption: c.a.encryption,
        })),
    });
  }
  return out;
}

/**
 * The fscrypt master key of `storageId` for `nodeId`: only its export host gets it, and only when the
 * storage is encrypted. Refusals name the storage, never the key.
 */
export async function exportKeyFor(
  deps: Pick<Deps, "db" | "keys" | "events">,
  nodeId: string,
  storageId: string,
): Promise<Uint8Array> {
  if (!isUuid(storageId)) throw new DomainError("invalid_argument", "storage_id: not a uuid");
  const [s] = await deps.db.select().from(storages).where(eq(storages.id, storageId));
  if (!s) throw new DomainError("not_found", `storage_id: no storage ${storageId}`);
  if (s.exportHostId !== nodeId)
    throw new DomainError("permission", `storage_id: this node does not export ${s.name}`);
  if (s.encryption !== "fscrypt" || !s.encryptionKey)
    throw new DomainError(
      "precondition",
      `storage_id: ${s.name} is not encrypted (encryption ${s.encryption})`,
    );
  const key = Buffer.from(deps.keys.open(s.encryptionKey, fscryptKeyContext(s.id)), "base64");
  await deps.events.emit(EVENTS.storageKeyDelivered, { storage: s.name }, { nodeId });
  return new Uint8Array(key);
}
