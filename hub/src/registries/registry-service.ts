/** RegistryService (operators) and RegistryNodeService (nodes): thin edges over registries.ts. */
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { EVENTS, type RegistryNodeService, type RegistryService } from "@powernode/proto";
import type { Deps } from "../deps.ts";
import { DomainError } from "../errors.ts";
import { requireNode } from "../rpc/context.ts";
import { intField, textField } from "../rpc/fields.ts";
import { pullCredentialFor } from "./pull-credential.ts";
import {
  deleteRegistry,
  HUB_ORIGIN,
  hostField,
  listRegistries,
  putRegistry,
  type RegistryRow,
  recompilePullers,
} from "./registries.ts";

function toProto(r: RegistryRow) {
  return {
    host: r.host,
    url: r.url,
    nodeUrl: r.nodeUrl ?? "",
    mirrorOf: r.mirrorOf ?? "",
    priority: r.priority,
    username: r.username ?? "",
    hasCredential: r.secret !== null,
    caPem: r.caPem ?? "",
    createdAt: timestampFromDate(r.createdAt),
    updatedAt: timestampFromDate(r.updatedAt),
  };
}

const REPOSITORY_RE = /^[a-z0-9]+([._-][a-z0-9]+)*(\/[a-z0-9]+([._-][a-z0-9]+)*)*$/;

export function createRegistryService(deps: Deps): ServiceImpl<typeof RegistryService> {
  const changed = async (row: Pick<RegistryRow, "host" | "mirrorOf">, action: string) => {
    await deps.events.emit(EVENTS.registryChanged, { registry: row.host, action });
    // Nodes sent this registry (or its origin, for a new mirror) get new locations.
    await recompilePullers(deps, [row.host, ...(row.mirrorOf ? [row.mirrorOf] : [])]);
  };
  return {
    async putRegistry(req) {
      const { row, created } = await putRegistry(deps, {
        url: textField("url", req.url, { required: true, max: 300 }),
        nodeUrl: textField("node_url", req.nodeUrl, { max: 300 }) || undefined,
        mirrorOf: textField("mirror_of", req.mirrorOf, { max: 300 }) || undefined,
        priority: intField("priority", req.priority, -1000, 1000),
        username: textField("username", req.username, { max: 256 }) || undefined,
        secret: textField("secret", req.secret, { max: 8192 }) || undefined,
        clearCredential: req.clearCredential,
        caPem: textField("ca_pem", req.caPem, { max: 64 * 1024 }) || undefined,
      });
      await changed(row, created ? "created" : "updated");
      return { registry: toProto(row), created };
    },
    async listRegistries() {
      return { registries: (await listRegistries(deps.db)).map(toProto) };
    },
    async deleteRegistry(req) {
      const host = hostField("host", req.host);
      const rows = await listRegistries(deps.db);
      const row = rows.find((r) => r.host === host);
      await deleteRegistry(deps.db, host);
      if (row) await changed(row, "deleted");
      return {};
    },
  };
}

export function createRegistryNodeService(deps: Deps): ServiceImpl<typeof RegistryNodeService> {
  return {
    async getPullCredential(req, ctx) {
      const node = requireNode(ctx);
      if (req.host === HUB_ORIGIN || req.host === "") return {}; // the hub's reads are open
      const host = hostField("host", req.host);
      const repository = textField("repository", req.repository, { required: true, max: 255 });
      if (!REPOSITORY_RE.test(repository))
        throw new DomainError("invalid_argument", "repository: not an OCI repository name");
      const c = await pullCredentialFor(deps, node.instanceId, host, repository);
      if (c.kind === "none") return {};
      const expiresAt = timestampFromDate(c.expiresAt);
      return c.kind === "basic"
        ? { credential: { case: "basic", value: { username: c.username, password: c.password } }, expiresAt }
        : { credential: { case: "bearerToken", value: c.token }, expiresAt };
    },
  };
}
