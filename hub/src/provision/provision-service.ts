/** ProvisionService: instance records and their lifecycle (bearer token required). */
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import type { ProvisionService } from "@powernode/proto";
import { inArray } from "drizzle-orm";
import { templates } from "../db/schema/index.ts";
import type { Deps } from "../deps.ts";
import { DomainError } from "../errors.ts";
import { fromProtoArch, toProtoArch, toProtoState } from "../rpc/proto-convert.ts";
import {
  createInstance,
  deleteInstance,
  getInstance,
  type InstanceRecord,
  issueTokenFor,
  listInstances,
  startInstance,
  stopInstance,
} from "./instances.ts";
import {
  applyModuleAssignment,
  createTemplate,
  listTemplates,
  type TemplateRecord,
} from "./module-assignments.ts";

function toProtoTemplate(t: TemplateRecord) {
  return { id: t.id, name: t.name, modules: t.modules, createdAt: timestampFromDate(t.createdAt) };
}

function toProtoInstance(r: InstanceRecord, template = "") {
  return {
    template,
    id: r.id,
    name: r.name,
    arch: toProtoArch(r.arch),
    memoryMib: r.memoryMib,
    vcpus: r.vcpus,
    provider: r.provider,
    state: toProtoState(r.state),
    providerInfo: r.providerInfo,
    persistent: r.persistent,
    createdAt: timestampFromDate(r.createdAt),
    modules: r.modules,
  };
}

/** The instances as the API shows them, each with its template's name (one query for all). */
async function toProtoInstances(deps: Deps, rows: readonly InstanceRecord[]) {
  const ids = [...new Set(rows.flatMap((r) => (r.templateId ? [r.templateId] : [])))];
  const names = new Map(
    ids.length === 0
      ? []
      : (
          await deps.db
            .select({ id: templates.id, name: templates.name })
            .from(templates)
            .where(inArray(templates.id, ids))
        ).map((t) => [t.id, t.name] as const),
  );
  return rows.map((r) => toProtoInstance(r, r.templateId ? (names.get(r.templateId) ?? "") : ""));
}

const oneInstance = async (deps: Deps, r: InstanceRecord) => (await toProtoInstances(deps, [r]))[0];

/** Creates the ProvisionService implementation. */
export function createProvisionService(deps: Deps): ServiceImpl<typeof ProvisionService> {
  return {
    async createInstance(req) {
      const arch = fromProtoArch(req.arch);
      if (!arch) throw new DomainError("invalid_argument", "arch: required (ARCH_AMD64 or ARCH_ARM64)");
      const { instance, token } = await createInstance(deps, {
        name: req.name,
        arch,
        memoryMib: req.memoryMib || 1024,
        vcpus: req.vcpus || 1,
        provider: req.provider || "qemu",
        start: req.start,
        persistent: req.persistent,
        network: req.network || "user",
        template: req.template,
      });
      return {
        instance: await oneInstance(deps, instance),
        bootstrapToken: token?.token ?? "",
        tokenExpiresAt: token ? timestampFromDate(token.expiresAt) : undefined,
      };
    },
    async getInstance(req) {
      return { instance: await oneInstance(deps, await getInstance(deps, req.id)) };
    },
    async listInstances() {
      return { instances: await toProtoInstances(deps, await listInstances(deps)) };
    },
    async startInstance(req) {
      return { instance: await oneInstance(deps, (await startInstance(deps, req.id)).instance) };
    },
    async stopInstance(req) {
      return { instance: await oneInstance(deps, await stopInstance(deps, req.id)) };
    },
    async deleteInstance(req) {
      await deleteInstance(deps, req.id);
      return {};
    },
    async assignModules(req) {
      const inst = await getInstance(deps, req.instanceId, "instance_id");
      const r = await applyModuleAssignment(
        deps,
        inst.id,
        req.modules.map((m) => ({ name: m.name, version: m.version })),
      );
      return { desiredVersion: BigInt(r.version), modules: r.modules };
    },
    async createTemplate(req) {
      const t = await createTemplate(
        deps.db,
        req.name,
        req.modules.map((m) => ({ name: m.name, version: m.version })),
      );
      return { template: toProtoTemplate(t) };
    },
    async listTemplates() {
      return { templates: (await listTemplates(deps.db)).map(toProtoTemplate) };
    },
    async issueBootstrapToken(req) {
      const inst = await getInstance(deps, req.instanceId, "instance_id");
      const t = await issueTokenFor(deps, inst);
      return { bootstrapToken: t.token, expiresAt: timestampFromDate(t.expiresAt) };
    },
  };
}
