/**
 * Claim mode, the hub's side: a device with no identity reports its facts (a fresh row, a claim code
 * and a poll secret), polls with its secret, and an operator confirms its code (an instance is created
 * and bound to it) or rejects it. A claimed device's poll returns a fresh bootstrap token until its
 * instance has enrolled. Codes expire after `claims.ttlSeconds`.
 */
import { timingSafeEqual } from "node:crypto";
import { EVENTS } from "@powernode/proto";
import { and, desc, eq, gt } from "drizzle-orm";
import { hashToken, newToken } from "../auth/tokens.ts";
import { type DeviceFactsDocument, instances, physicalDevices } from "../db/schema/index.ts";
import type { Deps } from "../deps.ts";
import { DomainError } from "../errors.ts";
import { createInstance, getInstance, type InstanceRecord, issueTokenFor } from "../provision/instances.ts";
import { newClaimCode } from "./claim-code.ts";
import { deviceKeyOf } from "./facts-input.ts";

export type DeviceRow = typeof physicalDevices.$inferSelect;
export type ClaimStatusName = "pending" | "claimed" | "rejected" | "expired";

/** The status as shown: a pending row past its expiry is expired. */
export function statusOf(row: DeviceRow, now: Date): ClaimStatusName {
  return row.status === "pending" && row.expiresAt <= now ? "expired" : row.status;
}

const isUniqueViolation = (e: unknown) =>
  String((e as { cause?: { code?: string } }).cause?.code ?? (e as { code?: string }).code) === "23505";

/** Records a discovery: earlier pending claims of the same hardware expire, a fresh code is made. */
export async function discoverDevice(
  deps: Pick<Deps, "db" | "events" | "config" | "now">,
  facts: DeviceFactsDocument,
  sourceAddress: string,
): Promise<{ row: DeviceRow; pollSecret: string }> {
  const now = deps.now();
  const deviceKey = deviceKeyOf(facts);
  const [latest] = await deps.db
    .select()
    .from(physicalDevices)
    .where(eq(physicalDevices.deviceKey, deviceKey))
    .orderBy(desc(physicalDevices.createdAt))
    .limit(1);
  const ttlMs = deps.config.claims.ttlSeconds * 1000;
  if (
    latest?.status === "rejected" &&
    latest.decidedAt &&
    latest.decidedAt.getTime() + ttlMs > now.getTime()
  ) {
    throw new DomainError(
      "permission",
      `facts: this device (${deviceKey}) was rejected by an operator; it may ask again after ${new Date(latest.decidedAt.getTime() + ttlMs).toISOString()}`,
    );
  }
  // A device asking again (a reboot, or someone repeating its facts) gets a new code: the one an
  // operator reads on the console is always the newest.
  await deps.db
    .update(physicalDevices)
    .set({ expiresAt: now, updatedAt: now })
    .where(
      and(
        eq(physicalDevices.deviceKey, deviceKey),
        eq(physicalDevices.status, "pending"),
        gt(physicalDevices.expiresAt, now),
      ),
    );
  const pollSecret = newToken("pnc");
  for (let attempt = 0; ; attempt++) {
    try {
      const [row] = await deps.db
        .insert(physicalDevices)
        .values({
          claimCode: newClaimCode(),
          deviceKey,
          facts,
          sourceAddress,
          pollSecretHash: hashToken(pollSecret),
          expiresAt: new Date(now.getTime() + ttlMs),
        })
        .returning();
      if (!row) throw new Error("recording a discovery: no row returned");
      await deps.events.emit(
        EVENTS.physicalDeviceDiscovered,
        {
          deviceId: row.id,
          claimCode: row.claimCode,
          macs: facts.macs,
          dmiUuid: facts.dmiUuid,
          arch: facts.arch,
          platformHint: facts.platformHint,
          sourceAddress,
        },
        { correlationId: row.id },
      );
      return { row, pollSecret };
    } catch (e) {
      // A code already pending (about 1 in 10^12 per pair): draw another.
      if (!isUniqueViolation(e) || attempt >= 4) throw e;
    }
  }
}

export type PollAnswer =
  | { status: "pending" | "expired" | "rejected"; row: DeviceRow }
  | {
      status: "claimed";
      row: DeviceRow;
      instance: InstanceRecord;
      token?: { token: string; expiresAt: Date };
    };

/** A device's poll: wrong id and wrong secret give the same answer (not_found). */
export async function pollClaim(deps: Deps, deviceId: string, pollSecret: string): Promise<PollAnswer> {
  const [row] = await deps.db.select().from(physicalDevices).where(eq(physicalDevices.id, deviceId));
  const want = Buffer.from(row?.pollSecretHash ?? "0".repeat(64), "hex");
  const got = Buffer.from(hashToken(pollSecret), "hex");
  if (!row || !timingSafeEqual(want, got))
    throw new DomainError("not_found", "device_id: no such device, or poll_secret does not match");
  const now = deps.now();
  await deps.db
    .update(physicalDevices)
    .set({ polls: row.polls + 1, updatedAt: now })
    .where(eq(physicalDevices.id, row.id));
  const status = statusOf(row, now);
  if (status !== "claimed" || !row.instanceId)
    return { status: status === "claimed" ? "pending" : status, row };
  const instance = await getInstance(deps, row.instanceId);
  // Until the node has enrolled (it then runs), every poll gets a fresh token; earlier ones are revoked.
  if (instance.state !== "pending" && instance.state !== "starting") return { status, row, instance };
  const issued = await issueTokenFor(deps, instance);
  return { status, row, instance, token: { token: issued.token, expiresAt: issued.expiresAt } };
}

/** The pending row of `code`, or why there is none. */
async function pendingByCode(deps: Pick<Deps, "db" | "now">, code: string): Promise<DeviceRow> {
  const [row] = await deps.db
    .select()
    .from(physicalDevices)
    .where(eq(physicalDevices.claimCode, code))
    .orderBy(desc(physicalDevices.createdAt))
    .limit(1);
  if (!row) throw new DomainError("not_found", `claim_code: no device has code ${code}`);
  const status = statusOf(row, deps.now());
  if (status === "expired")
    throw new DomainError("precondition", `claim_code: ${code} expired at ${row.expiresAt.toISOString()}`);
  if (status !== "pending") throw new DomainError("precondition", `claim_code: ${code} is already ${status}`);
  return row;
}

const clamp = (v: number, min: number, max: number) => Math.min(max, Math.max(min, v));

/**
 * The instance a confirm binds: an existing one (known hardware, made beforehand, never enrolled, of
 * the machine's arch, bound to no other machine) or a new one (provider "none") from the facts.
 */
async function instanceToBind(
  deps: Deps,
  row: DeviceRow,
  code: string,
  opts: { template: string; name: string; instanceId?: string },
): Promise<{ instance: InstanceRecord; created: boolean }> {
  if (opts.instanceId) {
    const instance = await getInstance(deps, opts.instanceId, "instance_id");
    if (instance.state !== "pending")
      throw new DomainError(
        "precondition",
        `instance_id: ${instance.id} is ${instance.state}; only an instance that never enrolled can be bound`,
      );
    if (instance.arch !== row.facts.arch)
      throw new DomainError(
        "precondition",
        `instance_id: ${instance.id} is ${instance.arch}, the machine reports ${row.facts.arch}`,
      );
    const [other] = await deps.db
      .select({ code: physicalDevices.claimCode })
      .from(physicalDevices)
      .where(and(eq(physicalDevices.instanceId, instance.id), eq(physicalDevices.status, "claimed")));
    if (other)
      throw new DomainError(
        "precondition",
        `instance_id: ${instance.id} is bound to machine ${other.code} already`,
      );
    return { instance, created: false };
  }
  const { instance } = await createInstance(deps, {
    name: opts.name || `dev-${code.toLowerCase()}`,
    arch: row.facts.arch,
    memoryMib: clamp(row.facts.memoryMib, 128, 1024 * 1024),
    vcpus: clamp(row.facts.cpus, 1, 256),
    provider: "none",
    start: false,
    persistent: false,
    network: "user",
    template: opts.template,
  });
  return { instance, created: true };
}

/** Confirms a pending code: binds the device to an instance, a new one unless `instanceId` names one. */
export async function confirmClaim(
  deps: Deps,
  code: string,
  opts: { template: string; name: string; instanceId?: string },
): Promise<{ row: DeviceRow; instance: InstanceRecord }> {
  const row = await pendingByCode(deps, code);
  const { instance, created } = await instanceToBind(deps, row, code, opts);
  const now = deps.now();
  const [claimed] = await deps.db
    .update(physicalDevices)
    .set({ status: "claimed", instanceId: instance.id, decidedAt: now, updatedAt: now })
    .where(and(eq(physicalDevices.id, row.id), eq(physicalDevices.status, "pending")))
    .returning();
  if (!claimed) {
    // Another confirm or a reject won the race: a record made for this one is not wanted.
    if (created)
      await deps.db
        .update(instances)
        .set({ state: "deleted", updatedAt: now })
        .where(eq(instances.id, instance.id));
    throw new DomainError("conflict", `claim_code: ${code} was decided meanwhile`);
  }
  const providerInfo = { claim_code: code, device_id: row.id, mac: row.facts.macs[0] ?? "" };
  const [bound] = await deps.db
    .update(instances)
    .set({ providerInfo: { ...instance.providerInfo, ...providerInfo }, updatedAt: now })
    .where(eq(instances.id, instance.id))
    .returning();
  await deps.events.emit(
    EVENTS.physicalDeviceClaimed,
    {
      deviceId: row.id,
      claimCode: code,
      instanceId: instance.id,
      template: opts.template,
      mac: providerInfo.mac,
      existingInstance: !created,
    },
    { nodeId: instance.id, correlationId: row.id },
  );
  return { row: claimed, instance: bound ?? instance };
}

/** Rejects a pending code: its polls answer rejected, and the hardware may not ask again for a TTL. */
export async function rejectClaim(
  deps: Pick<Deps, "db" | "now" | "events">,
  code: string,
  reason: string,
): Promise<DeviceRow> {
  const row = await pendingByCode(deps, code);
  const now = deps.now();
  const [rejected] = await deps.db
    .update(physicalDevices)
    .set({ status: "rejected", decidedAt: now, rejectReason: reason || null, updatedAt: now })
    .where(and(eq(physicalDevices.id, row.id), eq(physicalDevices.status, "pending")))
    .returning();
  if (!rejected) throw new DomainError("conflict", `claim_code: ${code} was decided meanwhile`);
  await deps.events.emit(
    EVENTS.physicalDeviceRejected,
    { deviceId: row.id, claimCode: code, reason },
    { correlationId: row.id },
  );
  return rejected;
}

/** Pending devices (newest first), or every recorded one with `all`. */
export async function listClaims(deps: Pick<Deps, "db" | "now">, all: boolean): Promise<DeviceRow[]> {
  const now = deps.now();
  const pending = and(eq(physicalDevices.status, "pending"), gt(physicalDevices.expiresAt, now));
  return deps.db
    .select()
    .from(physicalDevices)
    .where(all ? undefined : pending)
    .orderBy(desc(physicalDevices.createdAt))
    .limit(1000);
}
