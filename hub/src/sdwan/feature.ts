/**
 * The SDWAN feature: the topology the hub compiles for each node beyond its overlay networks: host
 * bridges (linux or OVS, by the node's network profile), IPFIX collectors for the OVS bridges, VRFs
 * per (node, network) with their FRR configuration and route leaks, OVN deployments with their logical
 * topology and plan (docs/sdwan.md); SdwanService for
 * operators, the desired state's `sdwan` section, and the hub's IPFIX collector (UDP, flow counts per node).
 */
import { createHash } from "node:crypto";
import { EVENTS, SdwanService } from "@powernode/proto";
import { defineSection } from "../desired-state/index.ts";
import { bindService, type Feature } from "../feature.ts";
import { routerAddress } from "../network/router-address.ts";
import { bridgesOf, ovsPeersOf } from "./bridges.ts";
import { enabledCollectors } from "./collectors.ts";
import { frrConfig } from "./frr.ts";
import { startIpfixReceiver } from "./ipfix-receiver.ts";
import { ovnCentralFor, ovnControlFor } from "./ovn.ts";
import { createSdwanService } from "./sdwan-service.ts";
import { compileSdwanSection } from "./section.ts";
import { frrInputsFor } from "./vrf.ts";

export const sdwanFeature: Feature = {
  name: "sdwan",
  services: [
    bindService({
      service: SdwanService,
      principals: {
        allocateHostBridge: "operator",
        drainHostBridge: "operator",
        removeHostBridge: "operator",
        listHostBridges: "operator",
        suggestNetworkProfile: "operator",
        createIpfixCollector: "operator",
        setIpfixCollectorEnabled: "operator",
        listIpfixCollectors: "operator",
        deleteIpfixCollector: "operator",
        listIpfixFlows: "operator",
        allocateVrf: "operator",
        listVrfs: "operator",
        setNetworkBgpAsn: "operator",
        createRouteLeak: "operator",
        revokeRouteLeak: "operator",
        listRouteLeaks: "operator",
        createOvnDeployment: "operator",
        setOvnDeploymentState: "operator",
        createLogicalSwitch: "operator",
        createLogicalRouter: "operator",
        createLogicalPort: "operator",
        createOvnAcl: "operator",
        getOvnPlan: "operator",
      },
      create: createSdwanService,
    }),
  ],
  listeners: [startIpfixReceiver],
  sections: [
    defineSection({
      section: "sdwan",
      async compile(tx, node) {
        const { vrfs, leaks } = await frrInputsFor(tx, node.id);
        return {
          bridges: compileSdwanSection(
            await bridgesOf(tx, node.id),
            await enabledCollectors(tx),
            await ovsPeersOf(tx, node.id),
          ).bridges,
          vrfs: vrfs.map((v) => ({
            id: v.id,
            nodeId: node.id,
            networkId: v.networkId,
            network: v.networkName,
            vrfName: v.vrfName,
            tableId: v.tableId,
            interfaceName: v.interfaceName,
            asn: v.asn,
            routerAddress: routerAddress(v.networkId, node.id),
          })),
          frrConfig: frrConfig(node, vrfs, leaks),
          ovnControl: await ovnControlFor(tx, node),
          ovnCentral: await ovnCentralFor(tx, node),
        };
      },
      async changed(core, nodeId, section, version) {
        const active = section.bridges.filter((b) => b.state === "active");
        await core.events.emit(
          EVENTS.sdwanTopologyCompiled,
          {
            version,
            bridges: active.map((b) => `${b.name}:${b.kind}`).join(","),
            tunnels: active.reduce((n, b) => n + b.tunnels.length, 0),
            vrfs: section.vrfs.map((v) => v.vrfName).join(","),
            frr: section.frrConfig
              ? createHash("sha256").update(section.frrConfig).digest("hex").slice(0, 12)
              : "",
            ovn: section.ovnControl?.deployment ?? "",
          },
          { nodeId },
        );
      },
    }),
  ],
};
