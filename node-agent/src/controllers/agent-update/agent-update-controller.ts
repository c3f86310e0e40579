/**
 * `agent-update`: runs the agent build the desired state's `agent` section names. It downloads the
 * build (size and sha256 checked), runs it once as a child (`powernode-agent preflight`: it must start,
 * load its controllers and report the named version), records a trial and asks the agent's owner
 * (AgentReexec) to re-execute PID 1 into it. The new agent, finding the trial, must have a heartbeat
 * acknowledged within the gate, else it records the build as failed and re-executes the previous one.
 * A failed build is reported in every heartbeat and never retried; a different build is.
 */
import { existsSync, mkdirSync, rmSync } from "node:fs";
import type { AgentSection } from "@powernode/proto";
import { createBackoff } from "../../runtime/backoff.ts";
import type { Controller, ControllerContext } from "../../runtime/controller.ts";
import type { AgentDeps } from "../deps.ts";
import {
  AgentReexec,
  AgentUpdateStatus,
  DesiredNodeState,
  type FailedAgentBuild,
  HeartbeatStatus,
} from "../resources.ts";
import { createUpdateRecords } from "./update-records.ts";

/** A build that is not worth retrying: wrong digest or size, or it failed its preflight. */
export class BuildRefused extends Error {
  override name = "BuildRefused";
}

/** The OS side: where builds go, how one is fetched and tried. */
export interface AgentUpdateOs {
  /** `/run/powernode/agent`. */
  dir: string;
  /** The running binary (process.execPath). */
  self: string;
  pid: number;
  /** Downloads the section's binary to `dest`, verified (BuildRefused for a digest or size mismatch). */
  download(section: AgentSection, dest: string, signal: AbortSignal): Promise<void>;
  /** Runs `path` once as a child; the version it reports, or BuildRefused saying why not. */
  preflight(path: string, signal: AbortSignal): Promise<string>;
  /** How long a new build has to get a heartbeat acknowledged after the re-exec (default 90 s). */
  gateMs?: number;
}

export const DEFAULT_GATE_MS = 90_000;

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** Waits until a heartbeat of this process was acknowledged; false after `ms`. */
async function heartbeatWithin(ctx: ControllerContext, ms: number): Promise<boolean> {
  const deadline = ctx.clock.now().getTime() + ms;
  for (;;) {
    if ((ctx.get(HeartbeatStatus, "node")?.spec.acked ?? 0) > 0) return true;
    const left = deadline - ctx.clock.now().getTime();
    if (left <= 0 || ctx.signal.aborted) return false;
    await ctx.changed({ timeoutMs: left });
  }
}

/** Blocks until the engine stops this controller (after an AgentReexec request). */
async function untilStopped(ctx: ControllerContext): Promise<void> {
  while (!ctx.signal.aborted) await ctx.changed({ timeoutMs: 60_000 });
}

export function agentUpdateController(deps: AgentDeps & { agentUpdate: AgentUpdateOs }): Controller {
  const os = deps.agentUpdate;
  const gateMs = os.gateMs ?? DEFAULT_GATE_MS;
  return {
    name: "agent-update",
    inputs: [DesiredNodeState, HeartbeatStatus],
    outputs: [AgentUpdateStatus, AgentReexec],
    async run(ctx) {
      const records = createUpdateRecords(os.dir);
      let failed = records.failed();
      const publish = () =>
        ctx.set(AgentUpdateStatus, "node", { pid: os.pid, ...(failed ? { failed } : {}) });
      const refuse = (f: FailedAgentBuild) => {
        failed = f;
        records.writeFailed(f);
        publish();
        ctx.log.error(`agent-update: ${f.version} (sha256 ${f.sha256.slice(0, 12)}) refused: ${f.reason}`);
      };
      publish();

      const trial = records.trial();
      if (trial?.version === deps.agentVersion) {
        ctx.condition(false, "Trial", `${trial.version}: waiting for a heartbeat (${gateMs / 1000} s)`);
        const ok = await heartbeatWithin(ctx, gateMs);
        if (ctx.signal.aborted) return;
        records.clearTrial();
        if (!ok) {
          refuse({
            version: trial.version,
            sha256: trial.sha256,
            reason: `no heartbeat within ${gateMs / 1000} s after the re-exec: rolled back to ${trial.previousVersion}`,
          });
          ctx.set(AgentReexec, "node", {
            path: trial.previous,
            version: trial.previousVersion,
            sha256: "",
            why: "rollback",
          });
          return untilStopped(ctx);
        }
        ctx.log.info(`agent-update: ${trial.version} confirmed (heartbeat acknowledged after the re-exec)`);
      } else if (trial) records.clearTrial(); // rolled back to here, or a stale record

      const backoff = createBackoff(deps.backoff);
      while (!ctx.signal.aborted) {
        const want = ctx.get(DesiredNodeState, "node")?.spec.agent;
        if (!want?.version || want.version === deps.agentVersion) {
          ctx.condition(true, "Current", `running ${deps.agentVersion}`);
          await ctx.changed();
          continue;
        }
        if (failed?.sha256 === want.sha256) {
          ctx.condition(false, "Refused", `${want.version}: ${failed.reason}`);
          await ctx.changed();
          continue;
        }
        const dest = records.binaryPath(want.sha256);
        try {
          ctx.condition(false, "Staging", `${want.version}: downloading and trying it`);
          mkdirSync(os.dir, { recursive: true, mode: 0o700 });
          if (!existsSync(dest)) await os.download(want, dest, ctx.signal);
          const reported = await os.preflight(dest, ctx.signal);
          if (reported !== want.version)
            throw new BuildRefused(`preflight: the build reports version "${reported}", not ${want.version}`);
        } catch (e) {
          if (ctx.signal.aborted) return;
          if (e instanceof BuildRefused) {
            rmSync(dest, { force: true });
            refuse({ version: want.version, sha256: want.sha256, reason: e.message });
            continue;
          }
          ctx.log.warn(`agent-update: fetching ${want.version}: ${message(e)}; retrying`);
          await ctx.clock.sleep(backoff.next(), ctx.signal);
          continue;
        }
        records.writeTrial({
          version: want.version,
          sha256: want.sha256,
          previous: os.self,
          previousVersion: deps.agentVersion,
        });
        ctx.log.info(`agent-update: ${want.version} passed its preflight; re-executing into ${dest}`);
        ctx.set(AgentReexec, "node", {
          path: dest,
          version: want.version,
          sha256: want.sha256,
          why: "update",
        });
        return untilStopped(ctx);
      }
    },
  };
}
