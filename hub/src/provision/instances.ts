/**
 * Instance lifecycle: create (pending) -> start (provider started: starting) -> running (first heartbeat,
 * see heartbeat-writer) -> stop (stopped) -> delete (deleted; certificates and tokens revoked).
 * Records, tokens and events live here; the provider only starts and stops machines.
 */
import { EVENTS } from "@powernode/proto";
import { and, asc, eq, isNull, ne } from "drizzle-orm";
import { type IssuedBootstrapToken, issueBootstrapToken } from "../auth/bootstrap-tokens.ts";
import { bootstrapTokens, instances } from "../db/schema/index.ts";
import type { Deps } from "../deps.ts";
import { DomainError } from "../errors.ts";
import { revokeInstanceCertificates } from "../node/enroll.ts";
import type { EmitEvent, InstanceProvider, ProviderInstance } from "../providers/provider.ts";
import { isUuid } from "../rpc/fields.ts";
import { templateByName } from "./module-assignments.ts";

export type InstanceRecord = typeof instances.$inferSelect;

type ProvisionDeps = Pick<
  Deps,
  "db" | "events" | "providers" | "ca" | "config" | "now" | "nodeIdentity" | "log" | "desiredState"
>;

const NAME_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
/** QEMU user networking, a host tap, or a tap on the bridge of a lab namespace (smokes' site tier). */
const NETWORK_RE = /^(user|tap:[a-zA-Z0-9_.-]{1,15}|lab:[a-zA-Z0-9_.-]{1,64}:[a-zA-Z0-9_.-]{1,15})$/;

/** What CreateInstance asks for, defaults applied by the caller. */
export interface CreateInstanceInput {
  name: string;
  arch: "amd64" | "arm64";
  memoryMib: number;
  vcpus: number;
  provider: string;
  start: boolean;
  persistent: boolean;
  network: string;
  /** Template name ("" or undefined: none); its modules are assigned before the first start. */
  template?: string;
}

function providerOf(deps: ProvisionDeps, name: string): InstanceProvider {
  const p = deps.providers.get(name);
  if (!p) {
    throw new DomainError(
      "precondition",
      `provider: "${name.slice(0, 32)}" is not registered (have: ${deps.providers.names().join(", ")})`,
    );
  }
  return p;
}

function toProviderInstance(r: InstanceRecord): ProviderInstance {
  return {
    id: r.id,
    name: r.name,
    arch: r.arch,
    memoryMib: r.memoryMib,
    vcpus: r.vcpus,
    persistent: r.persistent,
    network: r.network,
    providerInfo: r.providerInfo,
  };
}

function emitterFor(deps: ProvisionDeps, instanceId: string): EmitEvent {
  return async (kind, payload) => {
    await deps.events.emit(kind, payload, { nodeId: instanceId, correlationId: instanceId });
  };
}

/** One instance by id (deleted ones included). */
export async function getInstance(deps: Pick<Deps, "db">, id: string, field = "id"): Promise<InstanceRecord> {
  const v = id.toLowerCase();
  if (!isUuid(v)) throw new DomainError("invalid_argument", `${field}: not a UUID`);
  const [row] = await deps.db.select().from(instances).where(eq(instances.id, v));
  if (!row) throw new DomainError("not_found", `${field}: no instance ${v}`);
  return row;
}

/** All instances but deleted ones, oldest first. */
export function listInstances(deps: Pick<Deps, "db">): Promise<InstanceRecord[]> {
  return deps.db
    .select()
    .from(instances)
    .where(ne(instances.state, "deleted"))
    .orderBy(asc(instances.createdAt));
}

/** Issues a fresh bootstrap token for a live instance and records the event. */
export async function issueTokenFor(
  deps: ProvisionDeps,
  inst: InstanceRecord,
): Promise<IssuedBootstrapToken> {
  if (inst.state === "deleted")
    throw new DomainError("precondition", `instance_id: instance ${inst.id} is deleted`);
  const issued = await issueBootstrapToken(deps.db, inst.id, deps.now());
  await deps.events.emit(
    EVENTS.bootstrapTokenIssued,
    { tokenId: issued.id, expiresAt: issued.expiresAt.toISOString() },
    { nodeId: inst.id, correlationId: inst.id },
  );
  return issued;
}

/** Creates the record (and starts it when asked); the token is returned for the "none" provider. */
export async function createInstance(
  deps: ProvisionDeps,
  input: CreateInstanceInput,
): Promise<{ instance: InstanceRecord; token: IssuedBootstrapToken | undefined }> {
  if (!NAME_RE.test(input.name)) {
    throw new DomainError(
      "invalid_argument",
      `name: "${input.name.slice(0, 64)}" must be 1-63 of a-z, 0-9, '-'`,
    );
  }
  if (input.memoryMib < 128 || input.memoryMib > 1024 * 1024) {
    throw new DomainError("invalid_argument", "memory_mib: must be 128 to 1048576");
  }
  if (input.vcpus < 1 || input.vcpus > 256)
    throw new DomainError("invalid_argument", "vcpus: must be 1 to 256");
  if (!NETWORK_RE.test(input.network))
    throw new DomainError("invalid_argument", 'network: "user", "tap:<ifname>" or "lab:<netns>:<bridge>"');
  providerOf(deps, input.provider);
  const template = input.template ? await templateByName(deps.db, input.template) : undefined;
  const [existing] = await deps.db
    .select({ id: instances.id })
    .from(instances)
    .where(and(eq(instances.name, input.name), ne(instances.state, "deleted")));
  if (existing) throw new DomainError("already_exists", `name: instance "${input.name}" exists`);
  let row: InstanceRecord | undefined;
  try {
    [row] = await deps.db
      .insert(instances)
      .values({
        name: input.name,
        arch: input.arch,
        memoryMib: input.memoryMib,
        vcpus: input.vcpus,
        provider: input.provider,
        persistent: input.persistent,
        network: input.network,
        templateId: template?.id,
      })
      .returning();
  } catch (e) {
    // Lost a race against a concurrent create of the same name (partial unique index).
    if (
      String((e as { cause?: { code?: string } }).cause?.code ?? (e as { code?: string }).code) === "23505"
    ) {
      throw new DomainError("already_exists", `name: instance "${input.name}" exists`);
    }
    throw e;
  }
  if (!row) throw new Error("creating instance: no row returned");
  await deps.events.emit(
    EVENTS.instanceProvisioned,
    { name: row.name, arch: row.arch, provider: row.provider, memoryMib: row.memoryMib, vcpus: row.vcpus },
    { nodeId: row.id, correlationId: row.id },
  );
  // The node's first desired state already carries its template's modules.
  if (template && template.modules.length > 0) await deps.desiredState.change(row.id);
  if (input.start) {
    const started = await startInstance(deps, row.id);
    return { instance: started.instance, token: input.provider === "none" ? started.token : undefined };
  }
  const token = input.provider === "none" ? await issueTokenFor(deps, row) : undefined;
  return { instance: row, token };
}

/** Starts the machine with a fresh bootstrap token: pending/stopped -> starting. */
export async function startInstance(
  deps: ProvisionDeps,
  id: string,
): Promise<{ instance: InstanceRecord; token: IssuedBootstrapToken }> {
  const inst = await getInstance(deps, id);
  if (inst.state === "deleted") throw new DomainError("precondition", `id: instance ${inst.id} is deleted`);
  if (inst.state === "running" || inst.state === "starting" || inst.state === "degraded") {
    throw new DomainError("precondition", `id: instance ${inst.id} is already ${inst.state}`);
  }
  const provider = providerOf(deps, inst.provider);
  const token = await issueTokenFor(deps, inst);
  let info: Record<string, string>;
  try {
    info = await provider.start(
      toProviderInstance(inst),
      {
        instanceUuid: inst.id,
        bootstrapToken: token.token,
        platformUrl: deps.config.nodeUrl,
        caPem: deps.ca.certPem,
      },
      emitterFor(deps, inst.id),
    );
  } catch (e) {
    await deps.events.emit(
      EVENTS.instanceStartFailed,
      { provider: inst.provider, error: (e as Error).message },
      { nodeId: inst.id, correlationId: inst.id },
    );
    // The operator needs the reason (missing image, QEMU refusing an option): first line, bounded.
    const why = ((e as Error).message ?? String(e)).split("\n")[0]?.slice(0, 300);
    throw new DomainError("unavailable", `provider ${inst.provider}: start failed: ${why}`, { cause: e });
  }
  const now = deps.now();
  const [row] = await deps.db
    .update(instances)
    .set({ state: "starting", providerInfo: { ...inst.providerInfo, ...info }, updatedAt: now })
    .where(eq(instances.id, inst.id))
    .returning();
  if (!row) throw new Error(`starting instance ${inst.id}: row vanished`);
  await deps.events.emit(
    EVENTS.instanceStarted,
    { provider: inst.provider },
    { nodeId: inst.id, correlationId: inst.id },
  );
  return { instance: row, token };
}

/** Stops the machine: -> stopped. Idempotent for stopped instances. */
export async function stopInstance(deps: ProvisionDeps, id: string): Promise<InstanceRecord> {
  const inst = await getInstance(deps, id);
  if (inst.state === "deleted") throw new DomainError("precondition", `id: instance ${inst.id} is deleted`);
  if (inst.state === "stopped") return inst;
  await providerOf(deps, inst.provider).stop(toProviderInstance(inst), emitterFor(deps, inst.id));
  const [row] = await deps.db
    .update(instances)
    .set({ state: "stopped", updatedAt: deps.now() })
    .where(eq(instances.id, inst.id))
    .returning();
  if (!row) throw new Error(`stopping instance ${inst.id}: row vanished`);
  await deps.events.emit(
    EVENTS.instanceStopped,
    { from: inst.state },
    { nodeId: inst.id, correlationId: inst.id },
  );
  return row;
}

/** Deletes: stops and destroys the machine, revokes its certificates and tokens, keeps the row as deleted. */
export async function deleteInstance(deps: Deps, id: string): Promise<void> {
  const inst = await getInstance(deps, id);
  if (inst.state === "deleted") return;
  const provider = deps.providers.get(inst.provider);
  const emit = emitterFor(deps, inst.id);
  if (provider) {
    if (inst.state !== "stopped") await provider.stop(toProviderInstance(inst), emit);
    await provider.destroy(toProviderInstance(inst), emit);
  } else {
    // The record must stay deletable when its provider is gone from this hub (e.g. no QEMU here): the
    // machine, if any, is not touched, and the event says so.
    await emit(EVENTS.instanceProviderMissing, { provider: inst.provider, action: "delete" });
  }
  const now = deps.now();
  await deps.db.update(instances).set({ state: "deleted", updatedAt: now }).where(eq(instances.id, inst.id));
  await deps.db
    .update(bootstrapTokens)
    .set({ revokedAt: now, updatedAt: now })
    .where(
      and(
        eq(bootstrapTokens.instanceId, inst.id),
        isNull(bootstrapTokens.consumedAt),
        isNull(bootstrapTokens.revokedAt),
      ),
    );
  const revoked = await revokeInstanceCertificates(deps, inst.id);
  // Its network memberships and cluster node go too, before the answer (feature hooks).
  for (const hook of deps.instanceDeletedHooks)
    await hook(deps, inst.id).catch((error: unknown) =>
      deps.log.warn("a feature's cleanup of a deleted instance failed; its sweep retries", {
        id: inst.id,
        error,
      }),
    );
  await deps.events.emit(
    EVENTS.instanceDeleted,
    { name: inst.name, revokedCertificates: revoked.length },
    { nodeId: inst.id, correlationId: inst.id },
  );
}
