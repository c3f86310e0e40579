/** DockerService (operators) and DockerNodeService (nodes): thin edges over hosts.ts. */
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import type { DockerNodeService, DockerService } from "@powernode/proto";
import type { Deps } from "../deps.ts";
import { requireNode } from "../rpc/context.ts";
import { nameField, textField, uuidField } from "../rpc/fields.ts";
import {
  decommissionDockerHost,
  getDockerHost,
  issueClientCertificate,
  issueDaemonCertificate,
  listDockerHosts,
  provisionDockerHost,
  reportDaemon,
} from "./hosts.ts";
import { toProtoHost } from "./to-proto.ts";

const csrField = (v: string) => textField("csr_pem", v, { required: true, max: 16 * 1024 });

export function createDockerService(deps: Deps): ServiceImpl<typeof DockerService> {
  return {
    async provisionDockerHost(req) {
      const { host, created } = await provisionDockerHost(deps, uuidField("node_id", req.nodeId));
      return { host: toProtoHost(host), created };
    },
    async getDockerHost(req) {
      return { host: toProtoHost(await getDockerHost(deps.db, uuidField("host_id", req.hostId))) };
    },
    async listDockerHosts() {
      return { hosts: (await listDockerHosts(deps.db)).map(toProtoHost) };
    },
    async decommissionDockerHost(req) {
      const host = await decommissionDockerHost(deps, uuidField("host_id", req.hostId));
      return { hostId: host.id };
    },
    async issueDockerClientCertificate(req) {
      const issued = await issueClientCertificate(deps, {
        name: nameField("name", req.name),
        csrPem: csrField(req.csrPem),
      });
      return {
        certPem: issued.pem,
        caPem: issued.caPem,
        serial: issued.serial,
        notAfter: timestampFromDate(issued.notAfter),
      };
    },
  };
}

export function createDockerNodeService(deps: Deps): ServiceImpl<typeof DockerNodeService> {
  return {
    async issueDaemonCertificate(req, ctx) {
      const node = requireNode(ctx);
      const issued = await issueDaemonCertificate(deps, node.instanceId, {
        hostId: uuidField("host_id", req.hostId),
        csrPem: csrField(req.csrPem),
      });
      return {
        certPem: issued.pem,
        caPem: issued.caPem,
        serial: issued.serial,
        notAfter: timestampFromDate(issued.notAfter),
      };
    },
    async reportDaemon(req, ctx) {
      const node = requireNode(ctx);
      const host = await reportDaemon(deps, node.instanceId, {
        hostId: uuidField("host_id", req.hostId),
        running: req.running,
        dockerVersion: textField("docker_version", req.dockerVersion, { required: req.running, max: 64 }),
        error: textField("error", req.error, { max: 1024 }),
      });
      return { host: toProtoHost(host) };
    },
  };
}
