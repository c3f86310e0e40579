/**
 * `k3s`: runs the node's K3s server or agent from the desired state's `k3s` section. It fetches the
 * node's token from the hub (K3sNodeService.JoinRequest, again when the section's token revision
 * changes), writes `/etc/rancher/k3s/token` (0600) and `/etc/rancher/k3s/config.yaml` into the composed
 * root, and supervises `k3s server|agent --config ...` from the k3s module (chrooted like module
 * services). It tells the hub when k3s started (RegisterNode), what an initialising server made
 * (Bootstrap: kubeconfig, node-token), when k3s is ready (MarkReady) and when it stopped (MarkStopped).
 * Without a k3s binary in the root it writes the config, runs nothing and says
 * `missing: k3s binary (set POWERNODE_K3S_BINARY)`. Level-triggered, every 5 s and on every change.
 */
import { createHash } from "node:crypto";
import { EVENTS, type K3sSection } from "@powernode/proto";
import {
  type Controller,
  type ControllerContext,
  definePollingController,
} from "../../runtime/controller.ts";
import type { K3sOs } from "../../sys/k3s.ts";
import type { AgentDeps } from "../deps.ts";
import { type Supervisor, startSupervisor } from "../modules/supervisor.ts";
import { DesiredNodeState, HubConnection, K3sStatus, ModuleSetStatus } from "../resources.ts";
import {
  AGENT_KUBELET_KUBECONFIG,
  AGENT_TOKEN_PATH,
  CONFIG_PATH,
  K3S_BINARY,
  KUBECONFIG_PATH,
  k3sArgv,
  k3sConfigYaml,
  MISSING_BINARY,
  SERVER_TOKEN_PATH,
  TOKEN_PATH,
} from "./k3s-config.ts";

export const K3S_POLL_MS = 5_000;

interface Running {
  /** Root, config and token as started: a change restarts k3s. */
  fingerprint: string;
  section: K3sSection;
  supervisor: Supervisor;
  registered: boolean;
  ready: boolean;
}

const sha256 = (s: string) => createHash("sha256").update(s, "utf8").digest("hex");
const errText = (e: unknown) => (e instanceof Error ? e.message : String(e));

export function k3sController(deps: AgentDeps & { k3s: K3sOs }): Controller {
  const os = deps.k3s;
  let running: Running | undefined;
  let token: { key: string; value: string } | undefined;
  /** The root the files were last written to (removed from when k3s is no longer desired). */
  let wroteIn: string | undefined;
  /** What the last Bootstrap reported (it is sent again only when that changes). */
  let bootstrapped = "";

  const hubOf = (ctx: ControllerContext) => {
    const conn = ctx.get(HubConnection, "node")?.spec;
    if (!conn) throw new Error("the hub is not connected yet");
    return conn.link.current().k3s;
  };

  const stop = async (ctx: ControllerContext, reason: string) => {
    const r = running;
    if (!r) return;
    running = undefined;
    await r.supervisor.stop();
    ctx.log.info(`k3s: ${r.section.role} stopped (${reason})`);
    deps.phases.record(EVENTS.k3sStopped.kind, { payload: { clusterId: r.section.clusterId, reason } });
    if (!r.registered) return;
    try {
      await hubOf(ctx).markStopped({ reason });
    } catch (err) {
      // The cluster may be gone already (decommissioned): nothing to tell then.
      ctx.log.info(`k3s: MarkStopped not delivered: ${errText(err)}`);
    }
  };

  const status = (
    ctx: ControllerContext,
    s: K3sSection | undefined,
    state: "off" | "missing" | "running" | "ready",
    extra: { configSha256?: string; version?: string } = {},
  ) =>
    ctx.set(K3sStatus, "node", {
      clusterId: s?.clusterId ?? "",
      role: s?.role ?? "",
      state,
      configSha256: extra.configSha256 ?? "",
      version: extra.version ?? "",
    });

  /** The token for this section, from the hub when the revision changed. */
  const tokenFor = async (ctx: ControllerContext, s: K3sSection): Promise<string> => {
    const key = `${s.clusterId}/${s.role}/${s.tokenRevision}`;
    if (token?.key === key) return token.value;
    const r = await hubOf(ctx).joinRequest({ clusterId: s.clusterId, role: s.role });
    token = { key, value: r.token };
    return r.token;
  };

  /** True when k3s on this node is ready; an initialising server first reports what it made. */
  const checkReady = async (ctx: ControllerContext, root: string, s: K3sSection, version: string) => {
    if (s.role !== "server") return os.readFile(root, AGENT_KUBELET_KUBECONFIG) !== undefined;
    const kubeconfig = os.readFile(root, KUBECONFIG_PATH);
    const serverToken = os.readFile(root, SERVER_TOKEN_PATH)?.trim();
    if (!kubeconfig || !serverToken) return false;
    if (s.clusterInit) {
      const agentToken = os.readFile(root, AGENT_TOKEN_PATH)?.trim() ?? "";
      const key = sha256(`${s.clusterId}\n${kubeconfig}\n${serverToken}\n${agentToken}\n${version}`);
      if (key !== bootstrapped) {
        await hubOf(ctx).bootstrap({ kubeconfig, serverToken, agentToken, k3sVersion: version, cni: s.cni });
        bootstrapped = key;
        ctx.log.info(`k3s: cluster ${s.clusterName} bootstrapped (kubeconfig and node-token reported)`);
      }
    }
    return true;
  };

  const reconcile = async (ctx: ControllerContext): Promise<void> => {
    const s = ctx.get(DesiredNodeState, "node")?.spec.k3s;
    if (!s?.enabled) {
      await stop(ctx, "no k3s desired");
      if (wroteIn) {
        os.removeFile(wroteIn, TOKEN_PATH);
        os.removeFile(wroteIn, CONFIG_PATH);
        wroteIn = undefined;
      }
      token = undefined;
      status(ctx, undefined, "off");
      ctx.condition(true, "NoCluster", "");
      return;
    }
    const modules = ctx.get(ModuleSetStatus, "node")?.spec;
    const root = modules?.root;
    if (!root) {
      await stop(ctx, "no composed root");
      status(ctx, s, "missing");
      ctx.condition(false, "Missing", `${MISSING_BINARY}: no composed root yet (assign the k3s module)`);
      return;
    }
    const value = await tokenFor(ctx, s);
    const yaml = k3sConfigYaml(s);
    const configSha256 = sha256(yaml);
    os.writeFile(root, TOKEN_PATH, `${value}\n`, 0o600);
    if (os.writeFile(root, CONFIG_PATH, yaml, 0o644)) {
      ctx.log.info(`k3s: wrote ${CONFIG_PATH} (${s.role} of ${s.clusterName}, sha256 ${configSha256})`);
      deps.phases.record(EVENTS.k3sConfigWritten.kind, {
        payload: { clusterId: s.clusterId, role: s.role, path: CONFIG_PATH, sha256: configSha256 },
      });
    }
    wroteIn = root;
    const version =
      modules.observations.find((o) => o.name === "k3s" && o.state === "mounted")?.version ?? "";
    if (!os.hasBinary(root, K3S_BINARY)) {
      await stop(ctx, "no k3s binary");
      status(ctx, s, "missing", { configSha256 });
      ctx.condition(false, "Missing", MISSING_BINARY);
      return;
    }
    const fingerprint = `${root}\n${yaml}\n${value}`;
    if (running && running.fingerprint !== fingerprint) await stop(ctx, "configuration or root changed");
    if (!running) {
      const supervisor = startSupervisor(
        root,
        [{ module: "k3s", service: { name: s.role, exec: k3sArgv(s.role), restart: "always" } }],
        { sys: os, log: ctx.log },
      );
      running = { fingerprint, section: s, supervisor, registered: false, ready: false };
      deps.phases.record(EVENTS.k3sStarted.kind, {
        payload: { clusterId: s.clusterId, role: s.role, version },
      });
    }
    if (!running.registered) {
      await hubOf(ctx).registerNode({ clusterId: s.clusterId, role: s.role, k3sVersion: version });
      running.registered = true;
    }
    const ready = await checkReady(ctx, root, s, version);
    if (ready && !running.ready) {
      await hubOf(ctx).markReady({ k3sVersion: version });
      running.ready = true;
    }
    status(ctx, s, ready ? "ready" : "running", { configSha256, version });
    const exit = running.supervisor.status()[0]?.lastExit;
    if (ready) ctx.condition(true, "Ready", `k3s ${s.role} ${version} of ${s.clusterName}`);
    else if (exit !== undefined) ctx.condition(false, "Exited", `k3s ${s.role} exited (${exit}); restarting`);
    else ctx.condition(true, "Starting", `k3s ${s.role} of ${s.clusterName} starting`);
  };

  return definePollingController({
    name: "k3s",
    inputs: [DesiredNodeState, ModuleSetStatus, HubConnection],
    outputs: [K3sStatus],
    pollMs: K3S_POLL_MS,
    reconcile,
    stop: (ctx) => stop(ctx, "agent stopping"),
  });
}
