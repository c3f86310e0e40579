/**
 * The CNI of a K3s cluster: the two supported ones, the k3s flags each needs, which one a node gets
 * from its network profile, and the profile check (a lightweight node cannot run ovn_kubernetes).
 * Pure: values in, values or DomainErrors out.
 */
import { DomainError } from "../errors.ts";

export const CNIS = ["flannel", "ovn_kubernetes"] as const;
export type Cni = (typeof CNIS)[number];
export type NetworkProfile = "heavyweight" | "lightweight";

/** The default CNI of a cluster when nothing chooses one. */
export const DEFAULT_CNI: Cni = "flannel";

/** `cni` from a request: "" -> undefined (choose), one of {@link CNIS}, else invalid_argument naming the field. */
export function parseCni(field: string, v: string): Cni | undefined {
  if (v === "") return undefined;
  if ((CNIS as readonly string[]).includes(v)) return v as Cni;
  throw new DomainError(
    "invalid_argument",
    `${field}: "${v.slice(0, 64)}" is not a supported CNI (one of ${CNIS.join(", ")})`,
  );
}

/**
 * The k3s flags a CNI needs: none for flannel (k3s' own), and for ovn_kubernetes exactly
 * `--flannel-backend=none --disable-network-policy` (OVN brings its own networking and policy).
 */
export function k3sInstallFlags(cni: Cni): string[] {
  return cni === "ovn_kubernetes" ? ["--flannel-backend=none", "--disable-network-policy"] : [];
}

/** The CNI a node gets when nothing else decides: ovn_kubernetes for heavyweight nodes, else flannel. */
export function defaultCniFor(profile: NetworkProfile | null | undefined): Cni {
  return profile === "heavyweight" ? "ovn_kubernetes" : DEFAULT_CNI;
}

/** Throws precondition `CniProfileMismatch` when a node's profile cannot run `cni`. */
export function assertCniFitsProfile(
  cni: Cni,
  node: { id: string; name: string; networkProfile: NetworkProfile | null },
  cluster?: string,
): void {
  if (cni !== "ovn_kubernetes" || node.networkProfile === "heavyweight") return;
  const profile = node.networkProfile ?? "unknown (treated as lightweight)";
  throw new DomainError(
    "precondition",
    `CniProfileMismatch: node ${node.name} (${node.id}) has network profile ${profile}; ` +
      `${cluster ? `cluster ${cluster} uses` : "it cannot run"} ovn_kubernetes, which needs a heavyweight node`,
  );
}

/** `profile` from a request: "" -> null (unknown), heavyweight or lightweight, else invalid_argument. */
export function parseNetworkProfile(field: string, v: string): NetworkProfile | null {
  if (v === "") return null;
  if (v === "heavyweight" || v === "lightweight") return v;
  throw new DomainError(
    "invalid_argument",
    `${field}: "${v.slice(0, 64)}" is not a network profile (heavyweight, lightweight or empty)`,
  );
}
