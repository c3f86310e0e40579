/** The k3s feature's public surface (for smokes and tests in process). */
export { parseRole } from "./cluster-nodes.ts";
export { CNIS, type Cni, defaultCniFor, k3sInstallFlags, type NetworkProfile } from "./cni.ts";
export { k3sFeature } from "./feature.ts";
export { parsePodSubnetPrefix } from "./pod-subnet.ts";
export { flannelSettings, k3sSectionFor, SDWAN_FLANNEL_BACKEND } from "./section-config.ts";
