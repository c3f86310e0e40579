/** What every agent controller is built from: the node's identity, its state directory and shared services. */
import { Arch } from "@powernode/proto";
import type { BackoffOptions } from "../runtime/backoff.ts";
import type { PhaseRecorder } from "../runtime/phases.ts";
import type { Bridges } from "../sys/bridge.ts";
import type { DockerOs } from "../sys/docker-daemon.ts";
import type { FrrOs } from "../sys/frr.ts";
import type { K3sOs } from "../sys/k3s.ts";
import type { StorageOs } from "../sys/nfs.ts";
import type { OvsOs } from "../sys/ovs.ts";
import type { Vrfs } from "../sys/vrf.ts";
import type { AgentUpdateOs } from "./agent-update/agent-update-controller.ts";
import type { RenewalOptions } from "./credentials/renew.ts";
import type { DebugProbesOs } from "./debug-probes/debug-probes-controller.ts";
import type { MeshOs } from "./mesh/mesh-controller.ts";
import type { ModuleSet } from "./modules/module-set.ts";

/** The identity fields a node needs (see identity/parse-identity.ts for where they come from). */
export interface NodeIdentity {
  instanceUuid: string;
  bootstrapToken: string;
  platformUrl: string;
  /** Every hub to try, in order (a scaled-out hub); the first is `platformUrl`. */
  platformUrls?: string[];
  caPem: string;
}

/** Node observations for Heartbeat; the agent reads /proc, in process they default to harmless values. */
export interface NodeMetrics {
  zombieCount(): number;
  rssBytes(): number;
  /** Child processes the agent started since boot (0 when absent). */
  childrenSpawned?(): number;
}

export interface AgentDeps {
  identity: NodeIdentity;
  /** Where credentials live (`<stateDir>/pki/`); `/persist/powernode` on a node. */
  stateDir: string;
  /** Random per boot. */
  bootId: string;
  agentVersion: string;
  arch: Arch;
  /** Retry timing for every hub call (defaults: 1 s initial, cap 30 s). */
  backoff: BackoffOptions;
  phases: PhaseRecorder;
  metrics: NodeMetrics;
  /** Restart a desired-state stream that was silent this long (default 60 s; the hub keepalive is 25 s). */
  watchIdleMs?: number;
  /** Certificate renewal timing (default: at 75 % of the lifetime). */
  renewal?: RenewalOptions;
  /** The module set the `modules` controller drives (its owner stops it); none: no modules (in process). */
  modules?: ModuleSet;
  /** How often mounted modules are observed for the heartbeat (default 2 s). */
  moduleObserveMs?: number;
  /** The OS side of the WireGuard meshes; none: no `mesh` controller (in process without WireGuard). */
  mesh?: MeshOs;
  /** The OS side of the managed Docker host; none: no `docker` controller (in process). */
  docker?: DockerOs;
  /** The OS side of NFS exports and mounts (needs a module set: a composed root); none: no `storage`. */
  storage?: StorageOs;
  /** Kernel bridges (busybox `ip`); none: no `sdwan` controller (in process). */
  bridges?: Bridges;
  /** VRF devices (busybox `ip`), for the `sdwan` controller; none: VRFs are reported as not applied. */
  vrfs?: Vrfs;
  /** FRR in the composed root (the frr module), for the `sdwan` controller's frr.conf. */
  frr?: FrrOs;
  /** Open vSwitch in the composed root (the openvswitch module), for the `sdwan` controller's OVS bridges. */
  ovs?: OvsOs;
  /** The OS side of K3s (runs only with a module set: k3s comes from the k3s module); none: no `k3s`. */
  k3s?: K3sOs;
  /** Agent self-update (a node's PID 1 only); none: no `agent-update` controller (in process). */
  agentUpdate?: AgentUpdateOs;
  /** Test-only probes of the desired state's `debug` section (`powernode.debug=1`); none: not honoured. */
  debugProbes?: DebugProbesOs;
}

/** The agent architecture as the API names it. */
export function currentArch(): Arch {
  return process.arch === "arm64" ? Arch.ARM64 : process.arch === "x64" ? Arch.AMD64 : Arch.UNSPECIFIED;
}
