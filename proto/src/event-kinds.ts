/**
 * Every fleet event kind, with its default severity and who emits it: the one catalog both the hub and
 * the agent take kinds from (no string literals at emit sites). Kinds keep the predecessor's `system.*`
 * names. Retention follows severity: critical 365 days, the rest 90.
 */

export type EventSeverity = "info" | "warn" | "error" | "critical";

/** One kind: its dotted name, default severity, and whether the hub, the agent or both emit it. */
export interface EventKind {
  readonly kind: string;
  readonly severity: EventSeverity;
  readonly from: "hub" | "agent" | "both";
}

const k = (kind: string, severity: EventSeverity, from: EventKind["from"]): EventKind => ({
  kind,
  severity,
  from,
});

export const EVENTS = {
  // A node's life, as the agent records it (phase events, with its own timestamps).
  kernelBooted: k("system.kernel.booted", "info", "agent"),
  agentStarted: k("system.agent.started", "info", "agent"),
  networkUp: k("system.network.up", "info", "agent"),
  /** The hub writes it when it issues the certificate, the agent when it has credentials. */
  agentEnrolled: k("system.agent.enrolled", "info", "both"),
  heartbeatReceived: k("system.heartbeat.received", "info", "both"),
  agentConditions: k("system.agent.conditions", "info", "hub"),
  // Agent self-update (hub/src/agent-builds): builds, assignments, what heartbeats reported.
  agentBuildRegistered: k("system.agent.build_registered", "info", "hub"),
  agentAssigned: k("system.agent.assigned", "info", "hub"),
  agentUpdated: k("system.agent.updated", "info", "hub"),
  agentUpdateFailed: k("system.agent.update_failed", "error", "hub"),
  // Rolling updates over a template (hub/src/agent-builds/rollouts.ts); a failed rollout's
  // `rollout_finished` is emitted as error.
  agentRolloutStarted: k("system.agent.rollout_started", "info", "hub"),
  agentRolloutStep: k("system.agent.rollout_step", "info", "hub"),
  agentRolloutFinished: k("system.agent.rollout_finished", "info", "hub"),
  // Rolling module upgrades over a template (hub/src/module-rollouts).
  moduleRolloutStarted: k("system.module.rollout_started", "info", "hub"),
  moduleRolloutNode: k("system.module.rollout_node", "info", "hub"),
  moduleRolloutBatch: k("system.module.rollout_batch", "info", "hub"),
  moduleRolloutFinished: k("system.module.rollout_finished", "info", "hub"),
  // Modules on the node.
  moduleSetApplied: k("system.module_set.applied", "info", "agent"),
  moduleSetRolledBack: k("system.module_set.rolled_back", "warn", "agent"),
  /** The hub served (or the node received) bytes that do not match the catalog: never routine. */
  moduleVerifyFailed: k("system.module_verify_failed", "critical", "agent"),
  /** An assignment's signature is missing or does not verify with the hub's module key: not mounted. */
  moduleSignatureInvalid: k("system.module.signature_invalid", "critical", "agent"),
  moduleDrift: k("system.module_drift", "critical", "hub"),
  /** Every pull location answered 404 for a digest the catalog names: not retried until the assignment changes. */
  moduleArtifactMissing: k("system.module.artifact_missing", "error", "agent"),
  /** The hub could not hand a node a registry's pull credential (names the registry and why). */
  registryCredentialFailed: k("system.registry.credential_failed", "warn", "hub"),
  registryChanged: k("system.registry.changed", "info", "hub"),
  // Unknown hardware in claim mode (hub/src/claims): discovered with a code, then claimed or rejected.
  physicalDeviceDiscovered: k("system.physical_device.discovered", "info", "hub"),
  physicalDeviceClaimed: k("system.physical_device.claimed", "info", "hub"),
  physicalDeviceRejected: k("system.physical_device.rejected", "warn", "hub"),
  diskImagePublished: k("system.disk_image_published", "info", "hub"),
  diskImagePublishFailed: k("system.disk_image_publish_failed", "error", "hub"),
  // CVE drills (hub/src/cve): a record put, a drill run (exposed modules, nodes, risk score).
  cveRecorded: k("system.cve.recorded", "info", "hub"),
  cveDrilled: k("system.cve.drilled", "info", "hub"),
  // Storage (hub/src/storage).
  storageCreated: k("system.storage.created", "info", "hub"),
  storageDeleted: k("system.storage.deleted", "info", "hub"),
  storageAssigned: k("system.storage.assigned", "info", "hub"),
  storageUnassigned: k("system.storage.unassigned", "info", "hub"),
  /** The node serves its exports: /etc/exports written and applied, nfsd running. */
  storageExportsApplied: k("system.storage.exports_applied", "info", "agent"),
  /** A share (or a gateway's upstream) was mounted on the node. */
  storageMounted: k("system.storage.mounted", "info", "agent"),
  /** Mounting a share failed (the reason in `error`); the agent tries again. */
  storageMountFailed: k("system.storage.mount_failed", "warn", "agent"),
  storageUnmounted: k("system.storage.unmounted", "info", "agent"),
  /** An encrypted export's key went to its export host (StorageNodeService.GetExportKey). */
  storageKeyDelivered: k("system.storage.key_delivered", "info", "hub"),
  /** An export directory is fscrypt-encrypted (v2 policy) with its key added on the node. */
  storageEncrypted: k("system.storage.encrypted", "info", "agent"),
  // SDWAN topology (hub/src/sdwan): host bridges and IPFIX collectors.
  /**
   * A node's compiled `sdwan` section changed (whatever caused it: a bridge, a collector, a VRF, a leak,
   * a network member): its version and what it now holds.
   */
  sdwanTopologyCompiled: k("system.sdwan.topology_compiled", "info", "hub"),
  sdwanHostBridgeAllocated: k("system.sdwan.host_bridge.allocated", "info", "hub"),
  sdwanHostBridgeDraining: k("system.sdwan.host_bridge.draining", "info", "hub"),
  sdwanHostBridgeRemoved: k("system.sdwan.host_bridge.removed", "info", "hub"),
  /** An IPFIX collector was enabled: OVS bridges export to it. */
  sdwanIpfixCollectorAttached: k("system.sdwan.ipfix.collector_attached", "info", "hub"),
  sdwanIpfixCollectorDetached: k("system.sdwan.ipfix.collector_detached", "info", "hub"),
  /** An OVN deployment changed state (`state` in the payload). */
  sdwanOvnDeploymentState: k("system.sdwan.ovn.deployment_state", "info", "hub"),
  sdwanVrfAllocated: k("system.sdwan.vrf.allocated", "info", "hub"),
  sdwanRouteLeakCreated: k("system.sdwan.route_leak.created", "info", "hub"),
  sdwanRouteLeakRevoked: k("system.sdwan.route_leak.revoked", "info", "hub"),
  /** A linux host bridge was created and set up on the node. */
  sdwanBridgeUp: k("system.sdwan.bridge_up", "info", "agent"),
  /** A VRF device was created with its table on the node. */
  sdwanVrfUp: k("system.sdwan.vrf_up", "info", "agent"),
  /** A network's interface was enslaved to its VRF: the network is routed in the VRF's table. */
  sdwanVrfRouted: k("system.sdwan.vrf.routed", "info", "agent"),
  sdwanVrfDeleted: k("system.sdwan.vrf_deleted", "info", "agent"),
  /** The node's router address in a network was put on its VRF device (BGP announces it). */
  sdwanRouterAddress: k("system.sdwan.vrf.router_address", "info", "agent"),
  /** A link-local address was put on a mesh interface in a VRF (bgpd needs one for IPv6 sessions). */
  sdwanLinkLocal: k("system.sdwan.vrf.link_local", "info", "agent"),
  /**
   * What FRR routes in one of the node's VRFs changed (read from its JSON): the BGP peers established,
   * the prefixes learned from them and imported by route leaks, installed in the VRF's table.
   */
  sdwanBgpRoutes: k("system.sdwan.bgp.routes", "info", "agent"),
  /** FRR (zebra, bgpd) runs with the frr.conf the hub compiled (after a start or a change of it). */
  sdwanFrrApplied: k("system.sdwan.frr.applied", "info", "agent"),
  /**
   * Open vSwitch on the node was changed to match the section (bridges, VXLAN tunnel ports, IPFIX
   * export): the number of ovs-vsctl commands run, the active OVS bridges and their IPFIX targets.
   */
  sdwanOvsApplied: k("system.sdwan.ovs.applied", "info", "agent"),
  /**
   * OVN on the node: `role` central (the deployment's plan applied with ovn-nbctl: its sha256 and
   * command count) or chassis (ovn-controller joined, logical ports bound here made on br-int).
   */
  sdwanOvnApplied: k("system.sdwan.ovn.applied", "info", "agent"),
  /** A draining (or no longer named) host bridge was deleted on the node. */
  sdwanBridgeDeleted: k("system.sdwan.bridge_deleted", "info", "agent"),
  // Federation (hub/src/federation): hub-to-hub peerings.
  federationPeerProposed: k("system.federation.peer.proposed", "info", "hub"),
  federationPeerAccepted: k("system.federation.peer.accepted", "info", "hub"),
  federationPeerRevoked: k("system.federation.peer.revoked", "warn", "hub"),
  /** A physical replication slot for a cluster member was made on this hub's PostgreSQL. */
  federationReplicationSlotCreated: k("system.federation.replication.slot_created", "info", "hub"),
  /** A cluster member's PostgreSQL was promoted (it left recovery and takes writes). */
  federationReplicationPromoted: k("system.federation.replication.promoted", "warn", "hub"),
  // Test-only debug hooks (powernode.debug=1).
  debugRead: k("system.debug.read", "info", "agent"),
  debugTamper: k("system.debug.tamper", "warn", "agent"),
  debugFsverity: k("system.debug.fsverity", "info", "agent"),
  debugPing: k("system.debug.ping", "info", "agent"),
  debugFile: k("system.debug.file", "info", "agent"),
  debugMount: k("system.debug.mount", "info", "agent"),
  // Overlay networks (the WireGuard mesh): the hub's plan and credentials, the agent's interface.
  networkCreated: k("system.network.created", "info", "hub"),
  networkDeleted: k("system.network.deleted", "warn", "hub"),
  networkMemberJoined: k("system.network.member_joined", "info", "hub"),
  networkMemberLeft: k("system.network.member_left", "info", "hub"),
  credentialIssued: k("system.credential.issued", "info", "hub"),
  credentialRevoked: k("system.credential.revoked", "warn", "hub"),
  meshInterfaceUp: k("system.mesh.interface_up", "info", "agent"),
  meshInterfaceFailed: k("system.mesh.interface_failed", "error", "agent"),
  meshPeerAdded: k("system.mesh.peer_added", "info", "agent"),
  /** Removed by the hub, or its credential was revoked or expired. */
  meshPeerRemoved: k("system.mesh.peer_removed", "info", "agent"),
  /** A peer whose credential does not verify (signature, window, key or address) is not configured. */
  meshPeerRejected: k("system.mesh.peer_rejected", "warn", "agent"),
  /**
   * A VIP's primary holder moved (hub/src/network/vip-failover.ts): payload vip id, address, from/to
   * member and node ids, reason (manual_failover, sensor_failover), correlation. Warn: a move on the
   * holder's loss; an operator's is emitted as info.
   */
  vipFailover: k("system.vip.failover", "warn", "hub"),
  // K3s clusters: the hub's model (bootstrap, joins, readiness) and the agent's k3s controller.
  k3sClusterCreated: k("system.k3s.cluster_created", "info", "hub"),
  k3sClusterBootstrapped: k("system.k3s.cluster_bootstrapped", "info", "hub"),
  k3sCredentialsRefreshed: k("system.k3s.credentials_refreshed", "info", "hub"),
  k3sClusterActive: k("system.k3s.cluster_active", "info", "hub"),
  k3sClusterDecommissioned: k("system.k3s.cluster_decommissioned", "warn", "hub"),
  k3sNodeJoining: k("system.k3s.node_joining", "info", "hub"),
  k3sNodeReady: k("system.k3s.node_ready", "info", "hub"),
  k3sNodeStopped: k("system.k3s.node_stopped", "warn", "hub"),
  /** An ovn_kubernetes cluster in a network with a pod subnet prefix: the prefix is not used. */
  podSubnetPrefixIgnored: k("system.cluster_bootstrap.pod_subnet_prefix_ignored", "warn", "hub"),
  k3sConfigWritten: k("system.k3s.config_written", "info", "agent"),
  k3sStarted: k("system.k3s.started", "info", "agent"),
  k3sStopped: k("system.k3s.stopped", "info", "agent"),
  // Attestation challenges.
  attestationRequested: k("system.attestation.requested", "info", "hub"),
  attestationVerified: k("system.attestation.verified", "info", "hub"),
  attestationFailed: k("system.attestation.failed", "critical", "hub"),
  // Credentials.
  bootstrapTokenIssued: k("system.bootstrap_token.issued", "info", "hub"),
  certificateRenewed: k("system.certificate.renewed", "info", "hub"),
  certificateRevoked: k("system.certificate.revoked", "warn", "hub"),
  // Instances (the provisioning record of a node).
  instanceProvisioned: k("system.instance.provisioned", "info", "hub"),
  instanceStarted: k("system.instance.started", "info", "hub"),
  instanceStartFailed: k("system.instance.start_failed", "error", "hub"),
  instanceRunning: k("system.instance.running", "info", "hub"),
  instanceDegraded: k("system.instance.degraded", "error", "hub"),
  instanceRecovered: k("system.instance.recovered", "info", "hub"),
  instanceStopped: k("system.instance.stopped", "info", "hub"),
  instanceDeleted: k("system.instance.deleted", "warn", "hub"),
  instanceProviderMissing: k("system.instance.provider_missing", "warn", "hub"),
  // Providers.
  qemuDomainStarted: k("system.qemu.domain_started", "info", "hub"),
  qemuDomainStopped: k("system.qemu.domain_stopped", "info", "hub"),
  qemuDomainDestroyed: k("system.qemu.domain_destroyed", "info", "hub"),
  // Managed Docker hosts.
  dockerHostProvisioned: k("system.docker.host_provisioned", "info", "hub"),
  dockerDaemonCertificateIssued: k("system.docker.daemon_certificate_issued", "info", "hub"),
  dockerHostConnected: k("system.docker.host_connected", "info", "hub"),
  dockerHostDisconnected: k("system.docker.host_disconnected", "warn", "hub"),
  dockerHostDecommissioned: k("system.docker.host_decommissioned", "info", "hub"),
  dockerClientCertificateIssued: k("system.docker.client_certificate_issued", "info", "hub"),
  // ACME certificates (hub/src/certs): preflight, issuance, renewal, revocation, and a failed order
  // naming its step (account, order, dns-record, validate, finalize, store).
  acmePreflightPassed: k("system.acme.preflight_passed", "info", "hub"),
  acmePreflightFailed: k("system.acme.preflight_failed", "warn", "hub"),
  acmeCertificateIssued: k("system.acme.certificate.issued", "info", "hub"),
  acmeCertificateRenewed: k("system.acme.certificate.renewed", "info", "hub"),
  acmeCertificateRevoked: k("system.acme.certificate.revoked", "warn", "hub"),
  acmeCertificateFailed: k("system.acme.certificate.failed", "error", "hub"),
  acmeCertificateRetired: k("system.acme.certificate.retired", "info", "hub"),
  // Catalog.
  catalogModuleCreated: k("system.catalog.module_created", "info", "hub"),
  catalogVersionPublished: k("system.catalog.version_published", "info", "hub"),
} as const satisfies Record<string, EventKind>;

const byKind = new Map<string, EventKind>(Object.values(EVENTS).map((e) => [e.kind, e]));

/** The catalog entry of a kind, if it is one. */
export function eventKind(kind: string): EventKind | undefined {
  return byKind.get(kind);
}

/** The same kind with another severity (a forced stop warns, say). */
export function withSeverity(e: EventKind, severity: EventSeverity): EventKind {
  return { ...e, severity };
}
