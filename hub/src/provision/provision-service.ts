/** ProvisionService: instance records and their lifecycle (bearer token required). */
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import type { ProvisionService } from "@powernode/proto";
import type { Deps } from "../deps.ts";
import { DomainError } from "../errors.ts";
import { fromProtoArch } from "../rpc/proto-convert.ts";
import { oneInstance, toProtoInstances } from "./instance-proto.ts";
import {
  createInstance,
  deleteInstance,
  getInstance,
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
        req.modules.map((m) => ({ name: m.name, version: m.version, env: m.env })),
      );
      return { desiredVersion: BigInt(r.version), modules: r.modules };
    },
    async createTemplate(req) {
      const t = await createTemplate(
        deps.db,
        req.name,
        req.modules.map((m) => ({ name: m.name, version: m.version, env: m.env })),
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
