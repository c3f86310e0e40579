/**
 * Managed Docker hosts over the real API: provisioning needs an SDWAN peer and is idempotent; the
 * daemon's certificate and every client certificate chain to the Docker CA (an intermediate under the
 * root), a node certificate does not; reports move the host pending -> connected -> disconnected; the
 * node's `docker` section follows; decommission deletes the host; a node sees only its own host.
 */
import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createPrivateKey, createPublicKey, X509Certificate } from "node:crypto";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { DockerHostStatus, DockerNodeService, DockerService, NetworkService } from "@powernode/proto";
import { enrollTestNode, makeCsr, nodeTransport, operatorClient, startTestHub } from "../../test/harness.ts";
import { getDesiredState } from "../desired-state/index.ts";
import type { RunningHub } from "../hub.ts";

let hub: RunningHub;
beforeAll(async () => {
  hub = await startTestHub();
}, 30_000);
afterAll(async () => {
  await hub.stop();
});

const codeOf = async (p: Promise<unknown>) => {
  try {
    await p;
    return undefined;
  } catch (e) {
    return e instanceof ConnectError
      ? { code: e.code, message: e.rawMessage }
      : { code: -1, message: String(e) };
  }
};

async function meshNode(name: string) {
  const node = await enrollTestNode(hub, name);
  const net = operatorClient(hub, NetworkService);
  const network = `docker-${name}`;
  await net.createNetwork({ name: network });
  const joined = await net.joinNetwork({ network, nodeId: node.id });
  return {
    node,
    address: joined.member?.address ?? "",
    nodeClient: createClient(DockerNodeService, nodeTransport(hub, node)),
  };
}

describe("managed Docker hosts", () => {
  test("a node without an SDWAN peer is refused with an error that says so", async () => {
    const bare = await enrollTestNode(hub, "docker-bare");
    const err = await codeOf(operatorClient(hub, DockerService).provisionDockerHost({ nodeId: bare.id }));
    expect(err?.code).toBe(Code.FailedPrecondition);
    expect(err?.message).toContain("SDWAN");
    const unknown = await codeOf(
      operatorClient(hub, DockerService).getDockerHost({ hostId: crypto.randomUUID() }),
    );
    expect(unknown?.code).toBe(Code.NotFound);
  });

  test("provision, daemon certificate, reports, section, decommission", async () => {
    const { node, address, nodeClient } = await meshNode("docker-a");
    const docker = operatorClient(hub, DockerService);
    const first = await docker.provisionDockerHost({ nodeId: node.id });
    expect(first.created).toBe(true);
    expect(first.host?.status).toBe(DockerHostStatus.PENDING);
    expect(first.host?.apiEndpoint).toBe(`tcp://[${address}]:2376`);
    const again = await docker.provisionDockerHost({ nodeId: node.id });
    expect(again.created).toBe(false);
    expect(again.host?.id).toBe(first.host?.id ?? "");
    expect((await docker.listDockerHosts({})).hosts.filter((h) => h.nodeId === node.id)).toHaveLength(1);
    const hostId = first.host?.id ?? "";

    const state = await getDesiredState(hub.deps.db, node.id);
    expect(state?.docker?.enabled).toBe(true);
    expect(state?.docker?.listenAddress).toBe(address);
    expect(state?.docker?.port).toBe(2376);

    // The daemon's certificate: CN and SAN as asked, chained to the Docker CA, which chains to the root.
    const wrongCn = await makeCsr(node.id);
    const refused = await codeOf(nodeClient.issueDaemonCertificate({ hostId, csrPem: wrongCn.csrPem }));
    expect(refused?.code).toBe(Code.InvalidArgument);
    expect(refused?.message).toContain("csr_pem");
    const csr = await makeCsr(`docker-daemon-${node.id}`);
    const issued = await nodeClient.issueDaemonCertificate({ hostId, csrPem: csr.csrPem });
    const daemon = new X509Certificate(issued.certPem);
    const dockerCa = new X509Certificate(issued.caPem);
    const root = new X509Certificate(hub.deps.ca.certPem);
    expect(daemon.subject).toBe(`CN=docker-daemon-${node.id}`);
    expect(daemon.checkIP(address)).toBe(address);
    expect(daemon.verify(dockerCa.publicKey)).toBe(true);
    expect(dockerCa.verify(root.publicKey)).toBe(true);
    expect(dockerCa.ca).toBe(true);
    expect(daemon.publicKey.export({ format: "der", type: "spki" })).toEqual(
      createPublicKey(createPrivateKey(csr.keyPem)).export({ format: "der", type: "spki" }),
    );
    // A node certificate is signed by the root, not the Docker CA: no daemon trusts it.
    expect(new X509Certificate(node.certPem).verify(dockerCa.publicKey)).toBe(false);

    // Client certificates: same CA (the chain a daemon trusts).
    const clientCsr = await makeCsr("docker-client-smoke");
    const client = await docker.issueDockerClientCertificate({ name: "smoke", csrPem: clientCsr.csrPem });
    expect(client.caPem).toBe(issued.caPem);
    expect(new X509Certificate(client.certPem).verify(dockerCa.publicKey)).toBe(true);
    const badName = await codeOf(
      docker.issueDockerClientCertificate({ name: "Bad Name", csrPem: clientCsr.csrPem }),
    );
    expect(badName?.code).toBe(Code.InvalidArgument);

    // Reports: running -> connected with version; stopped -> disconnected with why.
    const ready = await nodeClient.reportDaemon({ hostId, running: true, dockerVersion: "20.10.24" });
    expect(ready.host?.status).toBe(DockerHostStatus.CONNECTED);
    expect(ready.host?.dockerVersion).toBe("20.10.24");
    expect(ready.host?.daemonReadyAt).toBeDefined();
    const stopped = await nodeClient.reportDaemon({ hostId, running: false, error: "dockerd exited (1)" });
    expect(stopped.host?.status).toBe(DockerHostStatus.DISCONNECTED);
    expect(stopped.host?.lastError).toBe("dockerd exited (1)");
    const noVersion = await codeOf(nodeClient.reportDaemon({ hostId, running: true }));
    expect(noVersion?.code).toBe(Code.InvalidArgument);

    // Another node cannot touch this host.
    const other = await meshNode("docker-b");
    const foreign = await codeOf(other.nodeClient.reportDaemon({ hostId, running: false }));
    expect(foreign?.code).toBe(Code.NotFound);

    expect((await docker.decommissionDockerHost({ hostId })).hostId).toBe(hostId);
    expect((await codeOf(docker.getDockerHost({ hostId })))?.code).toBe(Code.NotFound);
    expect((await getDesiredState(hub.deps.db, node.id))?.docker?.enabled).toBe(false);
  });
});
