/**
 * `docker`: runs the node's managed Docker host from the desired state's `docker` section. With a
 * host assigned and the docker-engine module mounted it keeps the daemon's key and hub-signed server
 * certificate, writes /etc/docker (daemon.json, TLS files, the hub registry's certs.d) into the
 * composed root, mounts dockerd's data directory, supervises dockerd, and reports the daemon's
 * version (running) or why not (stopped) to the hub on every change. With no host it stops dockerd,
 * unmounts its data and removes its keys. Level-triggered: every pass compares all of it.
 */
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { DockerSection } from "@powernode/proto";
import {
  type Controller,
  type ControllerContext,
  definePollingController,
} from "../../runtime/controller.ts";
import { DOCKERD, type DockerOs } from "../../sys/docker-daemon.ts";
import { writeFileAtomic } from "../../sys/files.ts";
import type { AgentDeps } from "../deps.ts";
import { type Supervisor, startSupervisor } from "../modules/supervisor.ts";
import {
  DesiredNodeState,
  DockerStatus,
  HubConnection,
  HubCredentials,
  ModuleSetStatus,
} from "../resources.ts";
import { daemonJson, dockerdArgv, ETC_DOCKER, registryCertsDir } from "./daemon-config.ts";
import {
  createDaemonKeyAndCsr,
  type DaemonPki,
  daemonPkiProblem,
  loadDaemonPki,
  removeDaemonPki,
  saveDaemonPki,
} from "./daemon-pki.ts";

export const DOCKER_POLL_MS = 5_000;

interface Running {
  root: string;
  files: string;
  supervisor: Supervisor;
}

export function dockerController(deps: AgentDeps & { docker: DockerOs }): Controller {
  const os = deps.docker;
  let running: Running | undefined;
  let reported = "";

  const stop = async (ctx: ControllerContext) => {
    if (!running) return;
    await running.supervisor.stop();
    os.releaseDataDir(running.root);
    rmSync(join(running.root, ETC_DOCKER, "server-key.pem"), { force: true });
    ctx.log.info("docker: dockerd stopped");
    running = undefined;
  };

  /** A certificate that serves this host, asking the hub for a new one when needed. */
  const ensurePki = async (ctx: ControllerContext, section: DockerSection): Promise<DaemonPki> => {
    const want = { hostId: section.hostId, address: section.listenAddress };
    const saved = loadDaemonPki(deps.stateDir);
    const problem = daemonPkiProblem(saved, want, new Date());
    if (!problem && saved) return saved;
    const conn = ctx.get(HubConnection, "node")?.spec;
    if (!conn) throw new Error(`${problem}; the hub is not connected yet`);
    const { keyPem, csrPem } = await createDaemonKeyAndCsr(`docker-daemon-${deps.identity.instanceUuid}`);
    const res = await conn.link.current().docker.issueDaemonCertificate({ hostId: section.hostId, csrPem });
    const pki = {
      ...want,
      keyPem,
      certPem: res.certPem,
      caPem: res.caPem,
      notBefore: new Date(),
      notAfter: res.notAfter ? new Date(Number(res.notAfter.seconds) * 1000) : new Date(),
    };
    saveDaemonPki(deps.stateDir, pki);
    ctx.log.info(`docker: daemon certificate issued (${problem}), valid until ${pki.notAfter.toISOString()}`);
    return loadDaemonPki(deps.stateDir) ?? pki;
  };

  /** Writes /etc/docker into the root; returns a fingerprint of what was written. */
  const writeFiles = (
    ctx: ControllerContext,
    root: string,
    section: DockerSection,
    pki: DaemonPki,
  ): string => {
    const creds = ctx.get(HubCredentials, "node")?.spec.pki;
    const etc = join(root, ETC_DOCKER);
    const certs = join(root, registryCertsDir(deps.identity.platformUrl));
    mkdirSync(certs, { recursive: true });
    const files: [string, string, number][] = [
      [join(etc, "ca.pem"), pki.caPem, 0o644],
      [join(etc, "server-cert.pem"), pki.certPem, 0o644],
      [join(etc, "server-key.pem"), pki.keyPem, 0o600],
      [
        join(etc, "daemon.json"),
        daemonJson({ listenAddress: section.listenAddress, port: section.port }),
        0o644,
      ],
      [join(certs, "ca.crt"), deps.identity.caPem, 0o644],
      ...(creds
        ? ([
            [join(certs, "client.cert"), creds.certificatePem, 0o644],
            [join(certs, "client.key"), creds.keyPem, 0o600],
          ] as [string, string, number][])
        : []),
    ];
    for (const [path, text, mode] of files) {
      let same = false;
      try {
        same = readFileSync(path, "utf8") === text;
      } catch {}
      if (!same) writeFileAtomic(path, text, mode);
    }
    return files.map(([p, t]) => `${p}\n${t}`).join("\n");
  };

  const report = async (
    ctx: ControllerContext,
    section: DockerSection,
    state: { running: boolean; version: string; error: string },
  ) => {
    const key = JSON.stringify({ host: section.hostId, ...state });
    if (key === reported) return;
    const conn = ctx.get(HubConnection, "node")?.spec;
    if (!conn) return;
    await conn.link.current().docker.reportDaemon({
      hostId: section.hostId,
      running: state.running,
      dockerVersion: state.version,
      listenAddress: `tcp://[${section.listenAddress}]:${section.port}`,
      error: state.error,
    });
    reported = key;
  };

  const reconcile = async (ctx: ControllerContext): Promise<void> => {
    const section = ctx.get(DesiredNodeState, "node")?.spec.docker;
    if (!section?.enabled) {
      await stop(ctx);
      if (removeDaemonPki(deps.stateDir))
        ctx.log.info("docker: no Docker host assigned; daemon keys removed");
      reported = "";
      ctx.set(DockerStatus, "node", { hostId: "", running: false, version: "" });
      ctx.condition(true, "NoHost", "");
      return;
    }
    const root = ctx.get(ModuleSetStatus, "node")?.spec.root;
    if (!root || !os.hasDaemon(root)) {
      await stop(ctx);
      const why = `missing: ${DOCKERD} (assign the docker-engine module)`;
      ctx.condition(false, "ModuleMissing", why);
      await report(ctx, section, { running: false, version: "", error: why });
      return;
    }
    const pki = await ensurePki(ctx, section);
    const files = writeFiles(ctx, root, section, pki);
    if (running && (running.root !== root || running.files !== files)) {
      ctx.log.info("docker: configuration or root changed; restarting dockerd");
      await stop(ctx);
      writeFiles(ctx, root, section, pki);
    }
    if (!running) {
      os.prepareDataDir(root);
      const supervisor = startSupervisor(
        root,
        [{ module: "docker-engine", service: { name: "dockerd", exec: dockerdArgv(), restart: "always" } }],
        { sys: os, log: ctx.log },
      );
      running = { root, files, supervisor };
    }
    const version = await os.version(root, ctx.signal);
    const exit = running.supervisor.status()[0]?.lastExit;
    const state = version
      ? { running: true, version, error: "" }
      : {
          running: false,
          version: "",
          error: exit === undefined ? "dockerd is starting" : `dockerd exited (${exit})`,
        };
    ctx.set(DockerStatus, "node", { hostId: section.hostId, running: state.running, version: state.version });
    if (state.running)
      ctx.condition(
        true,
        "Running",
        `dockerd ${version} on tcp://[${section.listenAddress}]:${section.port}`,
      );
    else ctx.condition(false, "NotRunning", state.error);
    // "starting" is not news for the hub; a daemon that answered once and then stopped is.
    if (state.running || exit !== undefined) await report(ctx, section, state);
  };

  return definePollingController({
    name: "docker",
    inputs: [DesiredNodeState, ModuleSetStatus, HubConnection, HubCredentials],
    outputs: [DockerStatus],
    pollMs: DOCKER_POLL_MS,
    reconcile,
    stop,
  });
}
