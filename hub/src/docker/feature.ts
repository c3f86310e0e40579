/**
 * The docker feature: managed Docker hosts. DockerService for operators (provision, list,
 * decommission, client certificates), DockerNodeService for nodes (the daemon's server certificate,
 * daemon reports), and the desired state's `docker` section.
 */
import { DockerNodeService, DockerService } from "@powernode/proto";
import { defineSection } from "../desired-state/index.ts";
import { bindService, type Feature } from "../feature.ts";
import { createDockerNodeService, createDockerService } from "./docker-service.ts";
import { dockerSectionOf } from "./hosts.ts";

export const dockerFeature: Feature = {
  name: "docker",
  services: [
    bindService({
      service: DockerService,
      principals: {
        provisionDockerHost: "operator",
        getDockerHost: "operator",
        listDockerHosts: "operator",
        decommissionDockerHost: "operator",
        issueDockerClientCertificate: "operator",
      },
      create: createDockerService,
    }),
    bindService({
      service: DockerNodeService,
      principals: { issueDaemonCertificate: "node", reportDaemon: "node" },
      create: createDockerNodeService,
    }),
  ],
  sections: [defineSection({ section: "docker", compile: (tx, node) => dockerSectionOf(tx, node.id) })],
};
