/**
 * `heartbeat`: liveness plus observations (module digests, zombies, memory) at the interval the hub
 * sets; answers attestation challenges; tells `desired-state` (through HeartbeatStatus) when the hub
 * names a newer desired version than the node holds or is reachable again after an outage.
 */
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { waitBeforeRetry } from "../../hub/retry.ts";
import { createBackoff } from "../../runtime/backoff.ts";
import type { Controller, ControllerContext } from "../../runtime/controller.ts";
import { PHASES } from "../../runtime/phases.ts";
import type { AgentDeps } from "../deps.ts";
import {
  AgentUpdateStatus,
  DesiredNodeState,
  HeartbeatStatus,
  HubConnection,
  HubCredentials,
  HubRefusal,
  MeshStatus,
  type ModuleObservation,
  ModuleSetStatus,
} from "../resources.ts";
import { answerAttestation } from "./attestation-answer.ts";

/** Clock differences above this are worth a warning (certificate validity checks allow 5 minutes). */
export const CLOCK_SKEW_WARN_SECONDS = 60;

/** Used until the hub names an interval. */
export const DEFAULT_HEARTBEAT_SECONDS = 30;

/** Warns when the node's clock is far from the hub's (no RTC, say): certificates will look invalid. */
function warnOnClockSkew(ctx: ControllerContext, serverTime: Date | undefined): void {
  if (!serverTime) return;
  const skew = (ctx.clock.now().getTime() - serverTime.getTime()) / 1000;
  if (Math.abs(skew) > CLOCK_SKEW_WARN_SECONDS)
    ctx.log.warn(`clock: this node is ${skew.toFixed(0)} s ${skew > 0 ? "ahead of" : "behind"} the hub`);
}

/** The interval: the hub's last answer, else the desired state's, else Enroll's, else the default. */
function interval(ctx: ControllerContext, answered: number): number {
  if (answered > 0) return answered;
  const fromState = ctx.get(DesiredNodeState, "node")?.spec.heartbeatIntervalSeconds ?? 0;
  if (fromState > 0) return fromState;
  const fromEnroll = ctx.get(HubCredentials, "node")?.spec.heartbeatSeconds ?? 0;
  return fromEnroll > 0 ? fromEnroll : DEFAULT_HEARTBEAT_SECONDS;
}

/** What the hub needs at once from a mesh report: the key, port and endpoints (peers' stats can wait). */
function meshIdentity(ctx: ControllerContext): string {
  return JSON.stringify(
    ctx.list(MeshStatus).map((r) => [r.id, r.spec.publicKey, r.spec.listenPort, r.spec.endpoints]),
  );
}

/** What the hub needs at once from the agent-update report: a build refused or rolled back. */
function updateIdentity(ctx: ControllerContext): string {
  return ctx.get(AgentUpdateStatus, "node")?.spec.failed?.sha256 ?? "";
}

/**
 * Sleeps one interval, but sends early when a mesh's key, port or endpoints changed (a node that joined
 * a network is a peer of nobody until the hub has its key) or a new agent build was refused.
 */
async function waitForNextBeat(
  ctx: ControllerContext,
  ms: number,
  urgent: { mesh: boolean; update: boolean },
): Promise<void> {
  if (!urgent.mesh && !urgent.update) return ctx.clock.sleep(ms, ctx.signal);
  const news = () => `${urgent.mesh ? meshIdentity(ctx) : ""}|${urgent.update ? updateIdentity(ctx) : ""}`;
  const sent = news();
  const until = Date.now() + ms;
  while (!ctx.signal.aborted && Date.now() < until) {
    await ctx.changed({ timeoutMs: until - Date.now() });
    if (news() !== sent) return;
  }
}

/** The hub refused the certificate this node presents as revoked (an operator's RevokeNodeCertificates). */
export function isRevokedRefusal(err: unknown): err is ConnectError {
  return (
    err instanceof ConnectError &&
    err.code === Code.Unauthenticated &&
    err.rawMessage.includes("certificate revoked")
  );
}

/** Heartbeats in a row the hub must miss (unreachable) before a scaled-out node moves to the next hub. */
export const FAILOVER_AFTER = 2;

/** The hub did not answer at all (gone, refused, timed out), as opposed to answering no. */
export function isUnreachable(err: unknown): boolean {
  if (!(err instanceof ConnectError)) return true;
  return err.code === Code.Unavailable || err.code === Code.DeadlineExceeded || err.code === Code.Unknown;
}

/** The agent-update part of a heartbeat: the pid and the last failed build. */
function updateReport(ctx: ControllerContext) {
  const s = ctx.get(AgentUpdateStatus, "node")?.spec;
  if (!s) return undefined;
  return {
    pid: s.pid,
    failedVersion: s.failed?.version ?? "",
    failedSha256: s.failed?.sha256 ?? "",
    failedReason: s.failed?.reason ?? "",
  };
}

export function heartbeatController(deps: AgentDeps): Controller {
  const withModules = deps.modules !== undefined;
  const withMesh = deps.mesh !== undefined;
  const withUpdate = deps.agentUpdate !== undefined;
  return {
    name: "heartbeat",
    inputs: [
      HubConnection,
      HubCredentials,
      DesiredNodeState,
      ...(withModules ? [ModuleSetStatus] : []),
      ...(withMesh ? [MeshStatus] : []),
      ...(withUpdate ? [AgentUpdateStatus] : []),
    ],
    outputs: [HeartbeatStatus, HubRefusal],
    async run(ctx) {
      const backoff = createBackoff(deps.backoff);
      let failing = false;
      let unreachable = 0;
      let answered = 0;
      let acked = 0;
      let recoveries = 0;
      let hubDesiredVersion = 0n;
      const publish = () =>
        ctx.set(HeartbeatStatus, "node", {
          acked,
          intervalSeconds: interval(ctx, answered),
          hubDesiredVersion,
          recoveries,
        });
      while (!ctx.signal.aborted) {
        const conn = ctx.get(HubConnection, "node")?.spec;
        const keyPem = ctx.get(HubCredentials, "node")?.spec.pki.keyPem;
        if (!conn || !keyPem) {
          await ctx.changed();
          continue;
        }
        const { link } = conn;
        const generation = link.generation();
        const status = withModules ? ctx.get(ModuleSetStatus, "node")?.spec : undefined;
        const modules: ModuleObservation[] = status?.observations ?? [];
        const appliedVersion = withModules
          ? (status?.appliedVersion ?? 0n)
          : (ctx.get(DesiredNodeState, "node")?.spec.version ?? 0n);
        try {
          const r = await link.current().client.heartbeat(
            {
              bootId: deps.bootId,
              agentVersion: deps.agentVersion,
              uptimeSeconds: ctx.clock.uptimeSeconds(),
              appliedVersion,
              modules,
              zombieCount: deps.metrics.zombieCount(),
              agentRssBytes: BigInt(deps.metrics.rssBytes()),
              childrenSpawned: deps.metrics.childrenSpawned?.() ?? 0,
              meshes: withMesh ? ctx.list(MeshStatus).map((r) => r.spec) : [],
              agentUpdate: withUpdate ? updateReport(ctx) : undefined,
            },
            { signal: ctx.signal, timeoutMs: 15_000 },
          );
          backoff.reset();
          unreachable = 0;
          if (failing) {
            ctx.log.info("heartbeat: hub reachable again");
            // The desired-state stream may have died silently with the old connection.
            recoveries++;
          }
          failing = false;
          acked++;
          hubDesiredVersion = r.desiredVersion;
          if (r.nextHeartbeatSeconds > 0) answered = r.nextHeartbeatSeconds;
          if (!deps.phases.has(PHASES.heartbeatReceived)) {
            deps.phases.record(PHASES.heartbeatReceived);
            warnOnClockSkew(ctx, r.serverTime ? timestampDate(r.serverTime) : undefined);
          }
          publish();
          ctx.condition(true, "Acked");
          // The hub asks for a signed attestation of exactly what this heartbeat reported.
          if (r.attestNonce.length > 0)
            await answerAttestation({ ...ctx, bootId: deps.bootId, keyPem }, link, r.attestNonce, modules);
          await waitForNextBeat(ctx, interval(ctx, answered) * 1000, { mesh: withMesh, update: withUpdate });
        } catch (err) {
          if (ctx.signal.aborted) return;
          // Cut off by a connection replacement (certificate renewed): send again on the new one.
          if (link.generation() !== generation) continue;
          failing = true;
          if (isRevokedRefusal(err)) ctx.set(HubRefusal, "node", { generation, message: err.rawMessage });
          // A hub that stopped answering: the next one of a scaled-out hub takes over at once.
          else if (isUnreachable(err) && ++unreachable >= FAILOVER_AFTER && link.failover(generation)) {
            unreachable = 0;
            ctx.log.warn(`heartbeat: hub unreachable ${FAILOVER_AFTER} times: moved to the next hub`);
            continue;
          }
          ctx.condition(false, "Unacknowledged", err instanceof Error ? err.message : String(err));
          await waitBeforeRetry(ctx, "heartbeat", err, backoff);
        }
      }
    },
  };
}
