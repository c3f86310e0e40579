/**
 * The seam between the hub's instance records and whatever runs the machine (QEMU, bare metal).
 * ProvisionService owns records, tokens and events; a provider only starts and stops machines.
 */
import type { EventKind } from "@powernode/proto";

/** What a node needs to find and trust the hub and prove who it is (delivered by fw-cfg for QEMU). */
export interface BootMaterial {
  instanceUuid: string;
  /** Plaintext one-time bootstrap token (1 hour). */
  bootstrapToken: string;
  /** Base URL of the hub's mTLS listener as the node reaches it, e.g. `https://10.0.2.2:8443`. */
  platformUrl: string;
  /** PEM of the hub's internal CA: the node trusts only this for the hub's TLS certificate. */
  caPem: string;
}

/** The provider's view of an instance record. */
export interface ProviderInstance {
  id: string;
  name: string;
  arch: "amd64" | "arm64";
  memoryMib: number;
  vcpus: number;
  persistent: boolean;
  /** Provider-specific network choice, e.g. "user", "tap:<ifname>" or "lab:<netns>:<bridge>". */
  network: string;
  /** What the provider returned from earlier calls (paths, pids, sockets). */
  providerInfo: Record<string, string>;
}

/** Lets a provider write fleet events (e.g. `system.qemu.domain_started`) without knowing the db. */
export type EmitEvent = (
  kind: Pick<EventKind, "kind" | "severity">,
  payload: Record<string, unknown>,
) => Promise<void>;

/** Observed machine state, as far as the provider can tell. */
export type ProviderStatus = "running" | "stopped" | "unknown";

export interface InstanceProvider {
  /** "qemu", "none", ... as stored in the instance's `provider` column. */
  readonly name: string;
  /** Starts the machine with the boot material; returns provider info to store with the instance. */
  start(instance: ProviderInstance, boot: BootMaterial, emit: EmitEvent): Promise<Record<string, string>>;
  /** Stops the machine (graceful, then forced); idempotent. */
  stop(instance: ProviderInstance, emit: EmitEvent): Promise<void>;
  /** Removes everything the provider created for the instance (disks, sockets, logs kept by policy). */
  destroy(instance: ProviderInstance, emit: EmitEvent): Promise<void>;
  status(instance: ProviderInstance): Promise<ProviderStatus>;
}
