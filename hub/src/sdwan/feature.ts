/**
 * The SDWAN feature: the topology the hub compiles for each node beyond its overlay networks. Today:
 * host bridges (linux or OVS, by the node's network profile) and IPFIX collectors for the OVS
 * bridges (docs/sdwan.md); SdwanService for operators and the desired state's `sdwan` section.
 */
import { SdwanService } from "@powernode/proto";
import { defineSection } from "../desired-state/index.ts";
import { bindService, type Feature } from "../feature.ts";
import { bridgesOf } from "./bridges.ts";
import { enabledCollectors } from "./collectors.ts";
import { createSdwanService } from "./sdwan-service.ts";
import { compileSdwanSection } from "./section.ts";

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
      },
      create: createSdwanService,
    }),
  ],
  sections: [
    defineSection({
      section: "sdwan",
      compile: async (tx, node) =>
        compileSdwanSection(await bridgesOf(tx, node.id), await enabledCollectors(tx)),
    }),
  ],
};
