/**
 * Claim mode's conversation with the hub (DeviceClaimService on its TLS listener, verified against the
 * CA from the cmdline): report the facts, print the claim code, poll until an operator confirms, and
 * return the identity to enroll with. Expired codes are asked for again; rejections and refusals
 * (rate limit, hub down) are retried after a wait, never given up on: a node in claim mode has
 * nothing else to do.
 */
import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Arch, ClaimStatus, DeviceClaimService } from "@powernode/proto";
import { describeError } from "../hub/describe-error.ts";
import type { Identity } from "../identity/parse-identity.ts";
import type { Log } from "../log.ts";
import { createBackoff } from "../runtime/backoff.ts";
import type { Clock } from "../runtime/clock.ts";
import type { DeviceFactsInput } from "../sys/device-facts.ts";
import type { ClaimTarget } from "./claim-params.ts";

export type DeviceClaimClient = Client<typeof DeviceClaimService>;

/** A DeviceClaimService client for the target (TLS, only its CA trusted, no client certificate). */
export function createDeviceClaimClient(target: ClaimTarget): DeviceClaimClient {
  const transport = createGrpcTransport({ baseUrl: target.url, nodeOptions: { ca: target.caPem } });
  return createClient(DeviceClaimService, transport);
}

export interface ClaimOptions {
  target: ClaimTarget;
  client: DeviceClaimClient;
  facts: DeviceFactsInput;
  agentVersion: string;
  log: Log;
  clock: Clock;
  /** Shows the code where a person sees it (the console); called for every new code. */
  announce(code: string, expiresAt: Date | undefined): void;
  signal?: AbortSignal;
  /** Longest wait between retries after a refusal (default 60 s). */
  maxRetryMs?: number;
}

/** Polls until claimed and returns the identity the hub handed over. */
export async function claimIdentity(o: ClaimOptions): Promise<Identity> {
  const facts = {
    ...o.facts,
    arch: o.facts.arch === "arm64" ? Arch.ARM64 : Arch.AMD64,
    agentVersion: o.agentVersion.slice(0, 64),
  };
  const backoff = createBackoff({ initialMs: 1000, maxMs: o.maxRetryMs ?? 60_000 });
  const retry = async (what: string, err: unknown) => {
    const ms = backoff.next();
    const code = err instanceof ConnectError ? ` [${Code[err.code]}]` : "";
    o.log.warn(
      `claim: ${what} failed${code}: ${describeError(err)}; retrying in ${(ms / 1000).toFixed(1)} s`,
    );
    await o.clock.sleep(ms, o.signal);
    o.signal?.throwIfAborted();
  };
  for (;;) {
    o.signal?.throwIfAborted();
    let device: { deviceId: string; pollSecret: string; claimCode: string; pollAfterSeconds: number };
    try {
      const d = await o.client.discoverDevice({ facts }, { signal: o.signal, timeoutMs: 30_000 });
      device = d;
      backoff.reset();
      const expires = d.expiresAt ? new Date(Number(d.expiresAt.seconds) * 1000) : undefined;
      o.announce(d.claimCode, expires);
    } catch (err) {
      await retry(`reporting to ${o.target.url}`, err);
      continue;
    }
    for (;;) {
      await o.clock.sleep(Math.max(1, device.pollAfterSeconds) * 1000, o.signal);
      o.signal?.throwIfAborted();
      let p: Awaited<ReturnType<DeviceClaimClient["pollClaim"]>>;
      try {
        p = await o.client.pollClaim(
          { deviceId: device.deviceId, pollSecret: device.pollSecret },
          { signal: o.signal, timeoutMs: 30_000 },
        );
        backoff.reset();
      } catch (err) {
        // The hub lost the record (restored database): start over with a new code.
        if (err instanceof ConnectError && err.code === Code.NotFound) break;
        await retry("polling", err);
        continue;
      }
      if (p.status === ClaimStatus.PENDING) continue;
      if (p.status === ClaimStatus.CLAIMED && p.bootstrapToken !== "") {
        o.log.info(`claim: ${device.claimCode} claimed as instance ${p.instanceUuid}`);
        return {
          instanceUuid: p.instanceUuid.toLowerCase(),
          bootstrapToken: p.bootstrapToken,
          platformUrl: p.platformUrl || o.target.url,
          caPem: o.target.caPem,
        };
      }
      if (p.status === ClaimStatus.REJECTED) {
        o.log.warn(`claim: ${device.claimCode} was rejected${p.rejectReason ? ` (${p.rejectReason})` : ""}`);
        await retry("the claim", new Error("rejected by an operator"));
      } else {
        o.log.info(
          `claim: ${device.claimCode} ${p.status === ClaimStatus.EXPIRED ? "expired" : "has no token"}; asking for a new code`,
        );
      }
      break;
    }
  }
}
