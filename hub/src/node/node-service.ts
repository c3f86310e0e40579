/**
 * NodeService: the API the agent speaks (Enroll without a client certificate; the rest over mTLS).
 */
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import type { NodeService } from "@powernode/proto";
import type { Deps } from "../deps.ts";
import { getDesiredState } from "../desired-state/index.ts";
import { DomainError } from "../errors.ts";
import { kOrigin, requireNode } from "../rpc/context.ts";
import { watch } from "../rpc/watch.ts";
import { enrollNode } from "./enroll.ts";
import { toHeartbeatInput } from "./heartbeat-input.ts";
import { renewNodeCertificate } from "./renewal.ts";
import { reportStatus } from "./report-status.ts";

/** Re-send the current document this often on an idle WatchDesiredState stream (keepalive). */
export const DESIRED_STATE_KEEPALIVE_MS = 25_000;

/** Creates the NodeService implementation. */
export function createNodeService(deps: Deps): ServiceImpl<typeof NodeService> {
  const heartbeatSeconds = deps.config.heartbeatSeconds;
  return {
    async enroll(req, ctx) {
      const cert = await enrollNode(deps, {
        bootstrapToken: req.bootstrapToken,
        csrPem: req.csrPem,
        instanceUuid: req.instanceUuid,
        agentVersion: req.agentVersion,
        remoteIp: ctx.values.get(kOrigin).remoteIp,
      });
      return {
        certificatePem: cert.pem,
        caChainPem: deps.ca.certPem,
        instanceUuid: cert.instanceId,
        notAfter: timestampFromDate(cert.notAfter),
        heartbeatIntervalSeconds: heartbeatSeconds,
      };
    },
    async renewCertificate(req, ctx) {
      const node = requireNode(ctx);
      const cert = await renewNodeCertificate(deps, node, req.csrPem, ctx.values.get(kOrigin).remoteIp);
      return {
        certificatePem: cert.pem,
        caChainPem: deps.ca.certPem,
        notAfter: timestampFromDate(cert.notAfter),
      };
    },
    async heartbeat(req, ctx) {
      const node = requireNode(ctx);
      const now = deps.now();
      // Every field checked against its column before it joins a batch with other nodes' heartbeats.
      const r = await deps.heartbeats.record(toHeartbeatInput(node.instanceId, req, now));
      if (req.modules.length > 0) {
        await deps.attestation.check(
          node.instanceId,
          req.bootId,
          r.desiredVersion,
          req.modules.map((m) => ({
            name: m.name,
            version: m.version,
            metadataDigest: m.metadataDigest,
            verityRootHash: m.verityRootHash,
            state: m.state,
            message: m.message,
          })),
        );
      }
      for (const observe of deps.heartbeatObservers) await observe(deps, node.instanceId, req);
      return {
        serverTime: timestampFromDate(now),
        nextHeartbeatSeconds: heartbeatSeconds,
        desiredVersion: BigInt(r.desiredVersion),
        attestNonce: deps.challenges.pending(node.instanceId, now) ?? new Uint8Array(),
      };
    },
    async *watchDesiredState(req, ctx) {
      const node = requireNode(ctx);
      const known = Number(req.knownVersion);
      const current = async () => {
        const state = await getDesiredState(deps.db, node.instanceId);
        state.heartbeatIntervalSeconds = heartbeatSeconds;
        return state;
      };
      // Wake-ups carry nothing: each reads the current document (a newer version, or the same one as a
      // keepalive: the agent ignores versions it has).
      for await (const wake of watch<"replay" | "changed" | "keepalive">({
        signal: ctx.signal,
        subscribe: (push) => deps.desired.subscribe(node.instanceId, () => push("changed")),
        replay: async () => ["replay"],
        keepaliveMs: DESIRED_STATE_KEEPALIVE_MS,
        keepalive: () => "keepalive",
      })) {
        const state = await current();
        if (wake === "replay" && known !== 0 && Number(state.version) <= known) continue;
        yield { state };
      }
    },
    async attest(req, ctx) {
      const node = requireNode(ctx);
      if (req.nonce.length !== 32) throw new DomainError("invalid_argument", "nonce: must be 32 bytes");
      if (req.signature.length === 0 || req.signature.length > 1024)
        throw new DomainError("invalid_argument", "signature: required, at most 1024 bytes");
      if (req.modules.length > 256) throw new DomainError("invalid_argument", "modules: more than 256");
      const r = await deps.challenges.answer(
        {
          instanceId: node.instanceId,
          serial: node.serial,
          nonce: req.nonce,
          bootId: req.bootId,
          modules: req.modules.map((m) => ({
            name: m.name,
            version: m.version,
            metadataDigest: m.metadataDigest,
            verityRootHash: m.verityRootHash,
            state: m.state,
            message: m.message,
          })),
          signature: req.signature,
        },
        deps.now(),
      );
      return { verified: r.verified, driftCount: r.driftCount };
    },
    async reportStatus(req, ctx) {
      const node = requireNode(ctx);
      const accepted = await reportStatus(
        deps,
        node.instanceId,
        req.bootId,
        req.events.map((e) => ({
          kind: e.kind,
          at: e.at ? timestampDate(e.at) : undefined,
          uptimeSeconds: e.uptimeSeconds,
          payload: e.payload ?? {},
        })),
        req.conditions.map((c) => ({
          type: c.type,
          ok: c.ok,
          reason: c.reason,
          message: c.message,
          since: c.since ? timestampDate(c.since) : undefined,
        })),
      );
      return { acceptedEvents: accepted };
    },
  };
}
