/** StorageService (operators): thin edges over storages.ts. */
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { type StorageNodeService, type StorageService, StorageShape } from "@powernode/proto";
import type { Deps } from "../deps.ts";
import { DomainError } from "../errors.ts";
import { getVip } from "../network/vips.ts";
import { requireNode } from "../rpc/context.ts";
import { nameField, textField, uuidField } from "../rpc/fields.ts";
import { effectiveEncryption } from "./section.ts";
import {
  type AssignmentRow,
  assignmentsOf,
  assignStorage,
  createStorage,
  deleteStorage,
  exportKeyFor,
  listStorages,
  resolveStorage,
  type StorageRow,
  unassignStorage,
} from "./storages.ts";

async function toProto(deps: Deps, s: StorageRow) {
  const vip = s.vipId ? await getVip(deps.db, s.vipId) : undefined;
  return {
    id: s.id,
    name: s.name,
    kind: s.kind,
    shape: s.shape === "self_hosted" ? StorageShape.SELF_HOSTED : StorageShape.GATEWAY_PROXY,
    encryption: s.encryption,
    networkId: s.networkId,
    exportHostId: s.exportHostId,
    exportPath: s.exportPath,
    upstreamHost: s.upstreamHost ?? "",
    upstreamPath: s.upstreamPath ?? "",
    upstreamOptions: s.upstreamOptions ?? "",
    vip: vip?.address ?? "",
    assignmentCount: (await assignmentsOf(deps.db, s.id)).length,
    createdAt: timestampFromDate(s.createdAt),
  };
}

const toProtoAssignment = (s: StorageRow, a: AssignmentRow) => ({
  id: a.id,
  storageId: a.storageId,
  clientId: a.clientId,
  mountPath: a.mountPath,
  options: a.options,
  encryption: a.encryption,
  effectiveEncryption: effectiveEncryption(s, a.encryption),
  createdAt: timestampFromDate(a.createdAt),
});

function encryptionField<T extends string>(field: string, v: string, allowed: readonly T[], fallback: T): T {
  if (v === "") return fallback;
  if (!(allowed as readonly string[]).includes(v))
    throw new DomainError(
      "invalid_argument",
      `${field}: "${v.slice(0, 32)}" is not one of ${allowed.join(", ")}`,
    );
  return v as T;
}

export function createStorageService(deps: Deps): ServiceImpl<typeof StorageService> {
  return {
    async createStorage(req) {
      const shape =
        req.shape === StorageShape.SELF_HOSTED
          ? "self_hosted"
          : req.shape === StorageShape.GATEWAY_PROXY
            ? "gateway_proxy"
            : undefined;
      if (!shape) throw new DomainError("invalid_argument", "shape: required (self_hosted or gateway_proxy)");
      const row = await createStorage(deps, {
        name: nameField("name", req.name, "storage name"),
        shape,
        network: textField("network", req.network, { required: true, max: 64 }),
        exportHostId: uuidField("export_host_id", req.exportHostId),
        exportPath: textField("export_path", req.exportPath, { required: true, max: 255 }),
        encryption: encryptionField("encryption", req.encryption, ["none", "fscrypt"] as const, "none"),
        upstreamHost: textField("upstream_host", req.upstreamHost, { max: 253 }) || undefined,
        upstreamPath: textField("upstream_path", req.upstreamPath, { max: 255 }) || undefined,
        upstreamOptions: textField("upstream_options", req.upstreamOptions, { max: 256 }) || undefined,
      });
      return { storage: await toProto(deps, row) };
    },
    async listStorages() {
      const rows = await listStorages(deps.db);
      return { storages: await Promise.all(rows.map((r) => toProto(deps, r))) };
    },
    async getStorage(req) {
      const s = await resolveStorage(deps.db, textField("storage", req.storage, { max: 64 }));
      const assignments = await assignmentsOf(deps.db, s.id);
      return {
        storage: await toProto(deps, s),
        assignments: assignments.map((a) => toProtoAssignment(s, a)),
      };
    },
    async deleteStorage(req) {
      await deleteStorage(deps, textField("storage", req.storage, { max: 64 }));
      return {};
    },
    async assignStorage(req) {
      const r = await assignStorage(deps, {
        storage: textField("storage", req.storage, { max: 64 }),
        clientId: uuidField("client_id", req.clientId),
        mountPath: textField("mount_path", req.mountPath, { required: true, max: 255 }),
        options: textField("options", req.options, { max: 256 }),
        encryption: encryptionField("encryption", req.encryption, ["inherit", "none"] as const, "inherit"),
      });
      return { assignment: toProtoAssignment(r.storage, r.assignment), created: r.created };
    },
    async unassignStorage(req) {
      await unassignStorage(
        deps,
        textField("storage", req.storage, { max: 64 }),
        uuidField("client_id", req.clientId),
      );
      return {};
    },
  };
}

/** StorageNodeService (nodes): an export host fetches its encrypted exports' keys. */
export function createStorageNodeService(deps: Deps): ServiceImpl<typeof StorageNodeService> {
  return {
    async getExportKey(req, ctx) {
      const node = requireNode(ctx);
      return { key: await exportKeyFor(deps, node.instanceId, uuidField("storage_id", req.storageId)) };
    },
  };
}
