/**
 * Network profiles: how much a node can carry on its network. A heavyweight node gets Open vSwitch
 * bridges (and may run OVN); a lightweight one kernel bridges. The suggestion is a pure function of
 * the node's size and changes nothing.
 */
export type NetworkProfile = "heavyweight" | "lightweight";
export type BridgeKind = "linux" | "ovs";

/** At least this many vCPUs and MiB of memory make a node heavyweight. */
export const HEAVYWEIGHT_MIN = { vcpus: 4, memoryMib: 8192 } as const;

/** The profile a node of this size suggests, and why. */
export function suggestNetworkProfile(size: { vcpus: number; memoryMib: number }): {
  profile: NetworkProfile;
  reason: string;
} {
  const heavy = size.vcpus >= HEAVYWEIGHT_MIN.vcpus && size.memoryMib >= HEAVYWEIGHT_MIN.memoryMib;
  return {
    profile: heavy ? "heavyweight" : "lightweight",
    reason: `${size.vcpus} vCPUs and ${size.memoryMib} MiB: heavyweight needs >= ${HEAVYWEIGHT_MIN.vcpus} and >= ${HEAVYWEIGHT_MIN.memoryMib}`,
  };
}

/** The bridge kind of a profile (an unknown profile is lightweight). */
export const defaultBridgeKind = (profile: NetworkProfile | null): BridgeKind =>
  profile === "heavyweight" ? "ovs" : "linux";

/** `pwnbr-<short id>`: an interface name of at most 15 bytes. */
export function bridgeName(shortId: number): string {
  const name = `pwnbr-${shortId}`;
  if (!Number.isInteger(shortId) || shortId < 1 || name.length > 15)
    throw new Error(`bridge short id ${shortId}: not 1..999999999`);
  return name;
}
