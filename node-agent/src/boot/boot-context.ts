/** What boot tasks get: injected OS access (so tests use fakes and a temp root) and what earlier tasks found. */
import type { ClaimTarget } from "../claim/claim-params.ts";
import type { Identity } from "../identity/parse-identity.ts";
import type { Log } from "../log.ts";
import type { BackoffOptions } from "../runtime/backoff.ts";
import type { Clock } from "../runtime/clock.ts";
import type { PhaseRecorder } from "../runtime/phases.ts";
import type { Exec } from "../sys/exec.ts";
import type { KmodLoader } from "../sys/kmod.ts";
import type { Mounter } from "../sys/mount.ts";
import type { Lease, Net } from "../sys/net.ts";
import type { Reaper } from "../sys/reaper.ts";

export interface BootDeps {
  /** "/" on a node; a temp dir in tests (proc, sys, dev, run, persist are under it). */
  root: string;
  exec: Exec;
  log: Log;
  clock: Clock;
  phases: PhaseRecorder;
  mounter: Mounter;
  kmodLoader: KmodLoader;
  net: Net;
  /** Starts the zombie reaper (PID 1 duty); undefined in tests that do not want one. */
  startReaper?: () => Reaper;
  /** Retry timing for DHCP. */
  backoff?: BackoffOptions;
  /** How long to wait for a network interface to appear. Default 30 s. */
  interfaceWaitMs?: number;
  /**
   * Called once DHCP is under way: loads (evaluates) the hub-session code while udhcpc waits for
   * the network, instead of after it. Evaluating that code (x509, ConnectRPC) costs seconds under TCG.
   */
  prefetch?: () => void;
}

/** What the boot found, filled in phase by phase. */
export interface BootState {
  identity?: Identity;
  identitySource?: string;
  /** No identity source answered and the cmdline names a hub to claim from: the claim phase runs. */
  claim?: ClaimTarget;
  /** `<persist>/powernode`: where credentials live. */
  stateDir?: string;
  persistent?: boolean;
  network?: { interface: string; address: string; method: "dhcp" | "static" };
  /** The DHCP lease in use (absent with a static address). */
  lease?: Lease;
  reaper?: Reaper;
}

export interface BootContext extends BootDeps {
  state: BootState;
}
