/** Instances as the API shows them (ProvisionService, ClaimService): the record with its template's name. */
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { inArray } from "drizzle-orm";
import { templates } from "../db/schema/index.ts";
import type { Deps } from "../deps.ts";
import { toProtoArch, toProtoState } from "../rpc/proto-convert.ts";
import type { InstanceRecord } from "./instances.ts";

/** One instance; `template` is its template's name (the caller knows it or looks it up). */
export function toProtoInstance(r: InstanceRecord, template = "") {
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
export async function toProtoInstances(deps: Deps, rows: readonly InstanceRecord[]) {
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

/** One instance with its template's name. */
export const oneInstance = async (deps: Deps, r: InstanceRecord) => (await toProtoInstances(deps, [r]))[0];
