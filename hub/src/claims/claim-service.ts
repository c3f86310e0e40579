/** DeviceClaimService (devices with no identity, TLS listener) and ClaimService (operators): thin edges over claims.ts. */
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { Arch, type ClaimService, ClaimStatus, type DeviceClaimService } from "@powernode/proto";
import type { Deps } from "../deps.ts";
import { DomainError } from "../errors.ts";
import { normaliseAddress } from "../limits.ts";
import { oneInstance } from "../provision/instance-proto.ts";
import { kOrigin } from "../rpc/context.ts";
import { nameField, textField, uuidField } from "../rpc/fields.ts";
import { createTokenBuckets } from "../rpc/token-bucket.ts";
import { claimCodeField } from "./claim-code.ts";
import {
  confirmClaim,
  type DeviceRow,
  discoverDevice,
  listClaims,
  pollClaim,
  rejectClaim,
  statusOf,
} from "./claims.ts";
import { parseDeviceFacts } from "./facts-input.ts";

function toProto(r: DeviceRow, now: Date) {
  const f = r.facts;
  return {
    id: r.id,
    claimCode: r.claimCode,
    status: statusOf(r, now),
    facts: {
      macs: f.macs,
      dmiUuid: f.dmiUuid,
      serial: f.serial,
      arch: f.arch === "arm64" ? Arch.ARM64 : Arch.AMD64,
      platformHint: f.platformHint,
      model: f.model,
      cpus: f.cpus,
      memoryMib: f.memoryMib,
      agentVersion: f.agentVersion,
    },
    sourceAddress: r.sourceAddress,
    createdAt: timestampFromDate(r.createdAt),
    expiresAt: timestampFromDate(r.expiresAt),
    instanceId: r.instanceId ?? "",
    decidedAt: r.decidedAt ? timestampFromDate(r.decidedAt) : undefined,
    rejectReason: r.rejectReason ?? "",
  };
}

const STATUS = {
  pending: ClaimStatus.PENDING,
  claimed: ClaimStatus.CLAIMED,
  rejected: ClaimStatus.REJECTED,
  expired: ClaimStatus.EXPIRED,
} as const;

export function createDeviceClaimService(deps: Deps): ServiceImpl<typeof DeviceClaimService> {
  const { claims } = deps.config;
  // Discoveries per source address, loopback included: the endpoint is public and each one is a row.
  const discovers = createTokenBuckets({
    perSecond: claims.discoversPerMinute / 60,
    burst: claims.discoverBurst,
  });
  const sourceOf = (ctx: HandlerContext) => normaliseAddress(ctx.values.get(kOrigin).remoteIp) || "unknown";
  return {
    async discoverDevice(req, ctx) {
      const source = sourceOf(ctx);
      if (!discovers.take(source)) {
        throw new DomainError(
          "resource_exhausted",
          `rate limit: ${source} is over ${claims.discoversPerMinute} discoveries a minute (burst ${claims.discoverBurst}); retry later`,
        );
      }
      const facts = parseDeviceFacts(req.facts);
      const { row, pollSecret } = await discoverDevice(deps, facts, source);
      return {
        deviceId: row.id,
        pollSecret,
        claimCode: row.claimCode,
        expiresAt: timestampFromDate(row.expiresAt),
        pollAfterSeconds: claims.pollSeconds,
      };
    },
    async pollClaim(req) {
      const deviceId = uuidField("device_id", req.deviceId);
      const secret = textField("poll_secret", req.pollSecret, { required: true, max: 128 });
      const a = await pollClaim(deps, deviceId, secret);
      const base = {
        status: STATUS[a.status],
        claimCode: a.row.claimCode,
        pollAfterSeconds: claims.pollSeconds,
        rejectReason: a.row.rejectReason ?? "",
      };
      if (a.status !== "claimed") return base;
      return {
        ...base,
        instanceUuid: a.instance.id,
        bootstrapToken: a.token?.token ?? "",
        tokenExpiresAt: a.token ? timestampFromDate(a.token.expiresAt) : undefined,
        platformUrl: deps.config.nodeUrl,
      };
    },
  };
}

export function createClaimService(deps: Deps): ServiceImpl<typeof ClaimService> {
  return {
    async listClaims(req) {
      const now = deps.now();
      return { devices: (await listClaims(deps, req.all)).map((r) => toProto(r, now)) };
    },
    async confirmClaim(req) {
      const code = claimCodeField("claim_code", req.claimCode);
      const template = req.template === "" ? "" : nameField("template", req.template, "template name");
      const name = req.name === "" ? "" : nameField("name", req.name, "instance name");
      const instanceId = req.instanceId === "" ? undefined : uuidField("instance_id", req.instanceId);
      if (instanceId && (template || name))
        throw new DomainError(
          "invalid_argument",
          `${template ? "template" : "name"}: not with instance_id (the existing instance keeps its own)`,
        );
      const { row, instance } = await confirmClaim(deps, code, { template, name, instanceId });
      return { device: toProto(row, deps.now()), instance: await oneInstance(deps, instance) };
    },
    async rejectClaim(req) {
      const code = claimCodeField("claim_code", req.claimCode);
      const row = await rejectClaim(deps, code, textField("reason", req.reason, { max: 256 }));
      return { device: toProto(row, deps.now()) };
    },
  };
}
