/**
 * `pnctl agent publish|builds|set|show|rollout`: agent self-update. Publish pushes a Bun-compiled
 * agent to the hub registry and registers it; `set` tells a node to run it, `rollout` a template's
 * nodes one at a time (docs/runbooks/agent-update.md).
 */
import { existsSync } from "node:fs";
import { type AgentBuild, AgentService, Arch, type NodeAgent } from "@powernode/proto";
import { pushAgentBuild } from "../agent-builds/publish.ts";
import { agentRolloutUsage, runAgentRollout } from "./agent-rollout-commands.ts";
import { flag } from "./args.ts";
import { type CommandGroup, required, table, ts, UsageError, unknownVerb } from "./shared.ts";

const archName = (a: Arch) => (a === Arch.ARM64 ? "arm64" : "amd64");

function buildView(b: AgentBuild) {
  return {
    version: b.version,
    arch: archName(b.arch),
    sha256: b.sha256,
    size: Number(b.size),
    manifestDigest: b.manifestDigest,
    createdAt: ts(b.createdAt),
  };
}

function nodeAgentView(a: NodeAgent | undefined) {
  return {
    nodeId: a?.nodeId ?? "",
    runningVersion: a?.runningVersion ?? "",
    pid: a?.pid ?? 0,
    desiredVersion: a?.desiredVersion || "(image)",
    lastFailedVersion: a?.lastFailedVersion ?? "",
    lastFailedReason: a?.lastFailedReason ?? "",
    lastFailedAt: ts(a?.lastFailedAt),
  };
}

export const agentCommands: CommandGroup = {
  name: "agent",
  usage: `  agent publish <binary> --version V [--arch amd64|arm64]   (push to powernode/agent and register)
  agent builds
  agent set NODE VERSION | --image   (the node re-executes into VERSION; --image: back to its image's agent)
  agent show NODE                    (running and desired version, pid, the last refused build)
${agentRolloutUsage}`,
  async run(ctx) {
    const svc = ctx.client(AgentService);
    switch (ctx.verb) {
      case "publish": {
        const binary = required(ctx, 0, "<binary>");
        if (!existsSync(binary)) throw new UsageError(`agent publish: ${binary}: no such file`);
        const version = flag(ctx.args, "version");
        if (!version) throw new UsageError("agent publish: --version is required");
        const arch = flag(ctx.args, "arch") ?? "amd64";
        if (arch !== "amd64" && arch !== "arm64")
          throw new UsageError(`--arch: "${arch}" is not amd64 or arm64`);
        const pushed = await pushAgentBuild({
          hubUrl: ctx.url,
          token: ctx.token(),
          hubCa: ctx.ca(),
          binary,
          version,
          arch,
        });
        const r = await svc.registerAgentBuild({
          version,
          arch: arch === "arm64" ? Arch.ARM64 : Arch.AMD64,
          manifestDigest: pushed.manifestDigest,
        });
        const v = { ...(r.build ? buildView(r.build) : {}), created: r.created };
        ctx.print(v, () => [
          `${r.created ? "published" : "already published"}: agent ${version} (${arch}) sha256 ${pushed.sha256.slice(0, 12)}, ${(pushed.size / 1024 / 1024).toFixed(1)} MiB`,
        ]);
        return 0;
      }
      case "builds": {
        const rows = (await svc.listAgentBuilds({})).builds.map(buildView);
        ctx.print(rows, () =>
          table([
            ["VERSION", "ARCH", "SHA256", "SIZE", "CREATED"],
            ...rows.map((r) => [
              r.version,
              r.arch,
              r.sha256.slice(0, 12),
              `${(r.size / 1024 / 1024).toFixed(1)} MiB`,
              r.createdAt ?? "",
            ]),
          ]),
        );
        return 0;
      }
      case "set": {
        const nodeId = required(ctx, 0, "NODE");
        const image = ctx.args.flags.get("image") === true;
        const version = image ? "" : required(ctx, 1, "VERSION");
        const r = await svc.setNodeAgent({ nodeId, version });
        const v = { ...nodeAgentView(r.agent), desiredStateVersion: Number(r.desiredVersion) };
        ctx.print(v, () => [
          `node ${nodeId}: agent ${version || "of its image"} (desired state v${v.desiredStateVersion})`,
        ]);
        return 0;
      }
      case "show": {
        const r = await svc.getNodeAgent({ nodeId: required(ctx, 0, "NODE") });
        const v = nodeAgentView(r.agent);
        ctx.print(v, () => Object.entries(v).map(([k, x]) => `${k}: ${x ?? ""}`));
        return 0;
      }
      case "rollout":
        return runAgentRollout(ctx);
      default:
        return unknownVerb(ctx, agentCommands);
    }
  },
};
