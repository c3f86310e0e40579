/**
 * The agent as PID 1: console logging, the boot sequence, then the hub session, forever.
 * Composes the real OS implementations; everything below takes them injected.
 */

import { join } from "node:path";
import type { ModuleSet } from "../controllers/modules/module-set.ts";
import { powernodeParams } from "../identity/cmdline.ts";
import { createLog } from "../log.ts";
import { createSystemClock } from "../runtime/clock.ts";
import { createPhaseRecorder } from "../runtime/phases.ts";
import { allowKmsgWrites, createConsoleSink } from "../sys/console.ts";
import { createExeca, type Exec } from "../sys/exec.ts";
import { finitKmodLoader } from "../sys/kmod.ts";
import { libcMounter } from "../sys/mount.ts";
import { createNet } from "../sys/net.ts";
import { listZombies, readKernelCmdline, readRssBytes, readUptimeSeconds } from "../sys/proc.ts";
import { startReaper } from "../sys/reaper.ts";
import { AGENT_VERSION } from "../version.ts";
import type { BootContext } from "./boot-context.ts";
import { startDhcpRenewal } from "./dhcp-renewal.ts";
import { panic } from "./panic.ts";
import { AGENT_UPDATE_DIR, HANDOFF_PATH, type Handoff, takeHandoff, watchForReexec } from "./reexec.ts";
import { runSequence } from "./sequencer.ts";
import { bootSequence } from "./sequences.ts";

/** `powernode.debug=1` on the kernel cmdline: the desired state's test-only hooks are honoured. */
function debugEnabled(): boolean {
  try {
    return powernodeParams(readKernelCmdline()).debug === "1";
  } catch {
    return false; // no cmdline readable: no debug hooks
  }
}

/** The OS sides of the mesh, docker, k3s, storage, sdwan and (with debug) the probes controllers. */
async function nodeOs(stateDir: string, exec: Exec, debug: boolean, owned: Set<number>, persistent: boolean) {
  const [
    { createWireguard },
    { createPing },
    { underlayAddresses },
    { createDockerOs },
    { createModuleSys },
    { createK3sOs },
    { createStorageOs },
    { createDebugProbesOs },
    { createBridges },
    { createVrfs },
    { createFrrOs },
    { createOvsOs },
  ] = await Promise.all([
    import("../sys/wireguard.ts"),
    import("../sys/ping.ts"),
    import("../sys/underlay.ts"),
    import("../sys/docker-daemon.ts"),
    import("../sys/module-sys.ts"),
    import("../sys/k3s.ts"),
    import("../sys/nfs.ts"),
    import("../sys/debug-probes.ts"),
    import("../sys/bridge.ts"),
    import("../sys/vrf.ts"),
    import("../sys/frr.ts"),
    import("../sys/ovs.ts"),
  ]);
  const sys = createModuleSys({
    children: { add: (pid) => owned.add(pid), delete: (pid) => owned.delete(pid) },
  });
  const storage = createStorageOs({ sys, exec, persistent });
  return {
    mesh: { wireguard: createWireguard(exec), keyDir: join(stateDir, "wireguard"), underlayAddresses },
    docker: createDockerOs(sys),
    k3s: createK3sOs(sys),
    storage,
    bridges: createBridges(exec),
    vrfs: createVrfs(exec),
    frr: createFrrOs(exec, sys),
    ovs: createOvsOs(exec, sys),
    ...(debug ? { debugProbes: createDebugProbesOs(exec, createPing(exec), storage.nfsFsid) } : {}),
  };
}

/**
 * The module set with the real OS: downloads under /persist when it is a disk (else /run). With
 * `powernode.debug=1` on the cmdline it honours the desired state's test-only debug hooks.
 */
async function createNodeModuleSet(ctx: BootContext, owned: Set<number>, caPem: string): Promise<ModuleSet> {
  const [{ createModuleSet }, { createModuleSys }, { createHubFetch }] = await Promise.all([
    import("../controllers/modules/module-set.ts"),
    import("../sys/module-sys.ts"),
    import("../hub/hub-fetch.ts"),
  ]);
  const debug = debugEnabled();
  if (debug) ctx.log.warn("powernode.debug=1: test-only debug hooks (desired state `debug`) are enabled");
  return createModuleSet({
    sys: createModuleSys({ children: { add: (pid) => owned.add(pid), delete: (pid) => owned.delete(pid) } }),
    log: ctx.log,
    phases: ctx.phases,
    modulesDir: ctx.state.persistent ? "/persist/powernode/modules" : "/run/powernode/modules",
    mountDir: "/run/powernode/mnt",
    sysroot: "/sysroot",
    ...(ctx.state.persistent ? { persistVar: "/persist/var" } : {}),
    arch: process.arch === "arm64" ? "arm64" : "amd64",
    debug,
    // Module references point at the hub's mTLS listener by default: trust its CA, as the session does.
    fetch: createHubFetch(caPem),
    // Other registries (the operator's, mirrors): their own CA when the location names one, else Bun's roots.
    registryFetch: (ca) => (ca ? createHubFetch(ca) : fetch),
  });
}

/** Takes over a booted node from the agent that re-executed into this one (boot/reexec.ts). */
function resume(ctx: BootContext, h: Handoff): void {
  ctx.state = { ...h.state };
  if (ctx.startReaper) ctx.state.reaper = ctx.startReaper();
  ctx.log.info(
    `resumed after re-exec from ${h.from.version} (${h.from.path}): boot id ${h.bootId}, no second boot`,
  );
}

/** The OS side of agent self-update: builds under /run/powernode/agent, fetched from the hub registry. */
async function agentUpdateOs(exec: Exec, caPem: string) {
  const [{ downloadAgentBuild, preflightAgentBuild }, { createHubFetch }] = await Promise.all([
    import("../sys/agent-binary.ts"),
    import("../hub/hub-fetch.ts"),
  ]);
  const hubFetch = createHubFetch(caPem);
  return {
    dir: AGENT_UPDATE_DIR,
    self: process.execPath,
    pid: process.pid,
    download: (s: Parameters<typeof downloadAgentBuild>[0], dest: string, signal: AbortSignal) =>
      downloadAgentBuild(s, dest, hubFetch, signal),
    preflight: (path: string, signal: AbortSignal) => preflightAgentBuild(exec, path, signal),
  };
}

/** Boots the node (or, after a re-exec, takes over from the previous agent) and runs its hub session; never returns. */
export async function runNode(): Promise<never> {
  const log = createLog(createConsoleSink("/dev"));
  // The init shim mounted /proc already; without it this fails quietly and kmsg stays rate-limited.
  allowKmsgWrites("/proc");
  let at = "";
  try {
    at = ` at ${readUptimeSeconds("/proc").toFixed(2)}s, runtime up for ${(performance.now() / 1000).toFixed(2)}s`;
  } catch {
    // No /proc yet (started without the init shim): the early phase mounts it.
  }
  log.info(`starting (version ${AGENT_VERSION}, ${process.arch}, pid ${process.pid})${at}`);
  // PID 1 must survive anything: log what escapes and keep going.
  process.on("uncaughtException", (err) =>
    log.error(`uncaught: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`),
  );
  process.on("unhandledRejection", (err) =>
    log.error(`unhandled rejection: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`),
  );

  const fallbackClock = createSystemClock();
  const clock = createSystemClock(() => {
    try {
      return readUptimeSeconds("/proc");
    } catch {
      // Before /proc is mounted.
      return fallbackClock.uptimeSeconds();
    }
  });
  const phases = createPhaseRecorder(clock, log);
  const owned = new Set<number>();
  // A re-exec (self-update) hands over what the boot found: no second boot.
  const handoff = takeHandoff(HANDOFF_PATH);
  let spawned = handoff?.spawned ?? 0;
  const exec = createExeca({
    add(pid) {
      owned.add(pid);
      spawned++;
    },
    delete: (pid) => owned.delete(pid),
  });
  // The controllers' code (x509, ConnectRPC, protobuf) is loaded while DHCP runs, not at start-up.
  let controllers: Promise<typeof import("../controllers/index.ts")> | undefined;
  const loadControllers = () => {
    controllers ??= import("../controllers/index.ts");
    return controllers;
  };
  const ctx: BootContext = {
    root: "/",
    exec,
    log,
    clock,
    phases,
    mounter: libcMounter,
    kmodLoader: finitKmodLoader,
    net: createNet(exec),
    prefetch: () => void loadControllers(),
    startReaper: () =>
      startReaper({ owned, onReap: (pid, comm) => log.info(`reaped orphan ${pid} (${comm})`) }),
    state: {},
  };
  try {
    if (handoff) resume(ctx, handoff);
    else await runSequence(bootSequence(), ctx);
  } catch (err) {
    let reboot = false;
    try {
      reboot = powernodeParams(readKernelCmdline()).panic === "reboot";
    } catch {
      // No /proc: the early phase itself failed; halt.
    }
    return panic(err, log, { exec, reboot });
  }
  const { identity, stateDir } = ctx.state;
  if (!identity || !stateDir)
    return panic(new Error("boot finished without identity or state dir"), log, { exec, reboot: false });
  log.info("boot phase session: controllers starting");
  const [{ agentControllers, currentArch }, { startEngine }] = await Promise.all([
    loadControllers(),
    import("../runtime/engine.ts"),
  ]);
  const modules = await createNodeModuleSet(ctx, owned, identity.caPem);
  const os = await nodeOs(stateDir, exec, debugEnabled(), owned, ctx.state.persistent === true);
  const bootId = handoff?.bootId ?? crypto.randomUUID();
  const engine = startEngine({
    log,
    clock,
    controllers: agentControllers({
      identity,
      stateDir,
      bootId,
      agentVersion: AGENT_VERSION,
      arch: currentArch(),
      backoff: {},
      phases,
      metrics: {
        zombieCount: () => listZombies("/proc").length,
        rssBytes: () => readRssBytes("self"),
        childrenSpawned: () => spawned,
      },
      modules,
      agentUpdate: await agentUpdateOs(exec, identity.caPem),
      ...os,
    }),
  });
  const { execve } = await import("../sys/libc.ts");
  watchForReexec({
    engine,
    modules,
    log,
    execve,
    self: process.execPath,
    fatal: (err) => void panic(err, log, { exec, reboot: true }),
    handoff: (): Handoff => ({
      bootId,
      spawned,
      from: { version: AGENT_VERSION, path: process.execPath },
      state: {
        identity,
        identitySource: ctx.state.identitySource,
        stateDir,
        persistent: ctx.state.persistent,
        network: ctx.state.network,
        lease: ctx.state.lease,
      },
    }),
  });
  // The address outlives its lease only if someone renews it.
  if (ctx.state.lease) startDhcpRenewal(ctx, ctx.state.lease);
  return new Promise<never>(() => {});
}
