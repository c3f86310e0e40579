/** A docker_hosts row as the API's DockerHost. */
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { type DockerHostSchema, DockerHostStatus } from "@powernode/proto";
import type { DockerHostRow } from "./hosts.ts";

const STATUS: Record<DockerHostRow["status"], DockerHostStatus> = {
  pending: DockerHostStatus.PENDING,
  connected: DockerHostStatus.CONNECTED,
  disconnected: DockerHostStatus.DISCONNECTED,
};

export function toProtoHost(h: DockerHostRow): MessageInitShape<typeof DockerHostSchema> {
  const ts = (d: Date | null) => (d ? timestampFromDate(d) : undefined);
  return {
    id: h.id,
    nodeId: h.instanceId,
    apiEndpoint: h.apiEndpoint,
    status: STATUS[h.status],
    managed: h.managed,
    dockerVersion: h.dockerVersion ?? "",
    daemonReadyAt: ts(h.daemonReadyAt),
    daemonCertSerial: h.daemonCertSerial ?? "",
    daemonCertNotAfter: ts(h.daemonCertNotAfter),
    networkId: h.networkId,
    lastError: h.lastError ?? "",
    createdAt: ts(h.createdAt),
    updatedAt: ts(h.updatedAt),
  };
}
