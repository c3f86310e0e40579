/**
 * Pass 2, db tier, managed Docker hosts (predecessor seed 3, `smoke_test_docker_runtime.rb`): a real
 * hub; a node (provider none) enrolled over mTLS and joined to a network; the operator API provisions
 * its host; the node's half (DockerNodeService) is called as the agent calls it, with its own client
 * certificate. Every check is one `ok` line.
 */
import { createPrivateKey, createPublicKey, X509Certificate } from "node:crypto";
import { Code, createClient } from "@connectrpc/connect";
import { DockerHostStatus, DockerNodeService, DockerService, NetworkService } from "@powernode/proto";
import { eq } from "drizzle-orm";
import { dockerHosts } from "../../hub/src/db/schema/index.ts";
import { enrollTestNode, makeCsr, nodeTransport, operatorClient } from "../../hub/test/harness.ts";
import { startSmokeHub } from "../lib/hub.ts";
import type { PassContext } from "../lib/pass.ts";
import { refusal } from "../lib/refusal.ts";

const DAY_MS = 86_400_000;

export async function dockerDbChecks(t: PassContext): Promise<void> {
  const s = await startSmokeHub(t);
  const hub = s.hub;
  const docker = operatorClient(hub, DockerService);
  const net = operatorClient(hub, NetworkService);
  const stamp = Date.now().toString(36);
  const node = await t.step(
    "node smoke-docker-host enrolled and joined to network smoke-docker-net",
    async () => {
      const n = await enrollTestNode(hub, `smoke-docker-host-${stamp}`);
      await net.createNetwork({ name: `smoke-docker-net-${stamp}` });
      const joined = await net.joinNetwork({ network: `smoke-docker-net-${stamp}`, nodeId: n.id });
      return { ...n, address: joined.member?.address ?? "" };
    },
  );
  const agent = createClient(DockerNodeService, nodeTransport(hub, node));

  const provisioned = await t.step("ProvisionDockerHost succeeds with a host summary", async () => {
    const r = await docker.provisionDockerHost({ nodeId: node.id });
    if (!r.host?.id || !r.created) throw new Error(`no new host: ${JSON.stringify(r.host)}`);
    return r.host;
  });
  const hostId = provisioned.id;
  await t.check("host is managed, pending, bound to the node", () => {
    if (
      !provisioned.managed ||
      provisioned.status !== DockerHostStatus.PENDING ||
      provisioned.nodeId !== node.id
    )
      throw new Error(
        `managed ${provisioned.managed}, status ${provisioned.status}, node ${provisioned.nodeId}`,
      );
    return `status pending, node ${node.id.slice(0, 8)}`;
  });
  await t.check("api_endpoint is tcp://[<peer /128>]:2376", () => {
    const want = `tcp://[${node.address}]:2376`;
    if (provisioned.apiEndpoint !== want) throw new Error(`${provisioned.apiEndpoint} != ${want}`);
    return want;
  });
  const [row] = await hub.deps.db.select().from(dockerHosts).where(eq(dockerHosts.id, hostId));
  const clientCert = new X509Certificate(row?.clientCertPem ?? "");
  await t.check("the hub's client credentials: PEM certificate, sealed PEM key, serial", () => {
    const key = hub.deps.keys.open(row?.clientKeyPem ?? "", `docker-host:${hostId}`);
    if (!key.includes("BEGIN PRIVATE KEY")) throw new Error("the client key does not open to a PEM key");
    if ((row?.clientKeyPem ?? "").includes("BEGIN PRIVATE KEY"))
      throw new Error("the client key is stored in clear");
    if (!row?.clientCertSerial) throw new Error("no client certificate serial");
    if (!createPublicKey(createPrivateKey(key)).equals(clientCert.publicKey))
      throw new Error("the client key is not the certificate's key");
    return `serial ${row.clientCertSerial}`;
  });
  await t.check("idempotent: a second ProvisionDockerHost returns the same host, still one", async () => {
    const again = await docker.provisionDockerHost({ nodeId: node.id });
    const mine = (await docker.listDockerHosts({})).hosts.filter((h) => h.nodeId === node.id);
    if (again.created || again.host?.id !== hostId || mine.length !== 1)
      throw new Error(`created ${again.created}, id ${again.host?.id}, ${mine.length} hosts`);
    return `host ${hostId.slice(0, 8)}, 1 host`;
  });

  const csr = await makeCsr(`docker-daemon-${node.id}`);
  const issued = await t.step("the agent's CSR (CN docker-daemon-<node>) is signed", () =>
    agent.issueDaemonCertificate({ hostId, csrPem: csr.csrPem }),
  );
  const daemon = new X509Certificate(issued.certPem);
  const dockerCa = new X509Certificate(issued.caPem);
  await t.check("daemon certificate: 90 days, PEM certificate and chain", () => {
    const days = Math.round((daemon.validToDate.getTime() - Date.now()) / DAY_MS);
    if (days !== 90) throw new Error(`${days} days`);
    if (
      !issued.certPem.startsWith("-----BEGIN CERTIFICATE-----") ||
      !issued.caPem.startsWith("-----BEGIN CERTIFICATE-----")
    )
      throw new Error("not PEM");
    return `${daemon.subject}, ${days} days`;
  });
  await t.check(
    "daemon certificate verifies against the Docker CA, which verifies against the hub root",
    () => {
      if (!daemon.verify(dockerCa.publicKey)) throw new Error("daemon -> Docker CA fails");
      if (!dockerCa.verify(new X509Certificate(hub.deps.ca.certPem).publicKey))
        throw new Error("Docker CA -> root fails");
      return dockerCa.subject.replace(/\n/g, ", ");
    },
  );
  await t.check("daemon certificate's public key equals the CSR's key; SAN is the overlay address", () => {
    if (!daemon.publicKey.equals(createPublicKey(createPrivateKey(csr.keyPem))))
      throw new Error("keys differ");
    if (daemon.checkIP(node.address) !== node.address) throw new Error(`no SAN IP ${node.address}`);
    return node.address;
  });
  await t.check(
    "mutual trust: the hub's client certificate chains to the same Docker CA as the daemon's",
    () => {
      if (!clientCert.verify(dockerCa.publicKey)) throw new Error("client -> Docker CA fails");
      if (clientCert.issuer !== daemon.issuer) throw new Error(`${clientCert.issuer} != ${daemon.issuer}`);
      return "issuer equal";
    },
  );
  await t.check(
    "a node certificate does not chain to the Docker CA (no node opens another node's daemon)",
    () => {
      if (new X509Certificate(node.certPem).verify(dockerCa.publicKey)) throw new Error("it does");
      return "refused";
    },
  );

  await t.check("ready report (docker_version 25.0.3) -> connected, version, daemon_ready_at", async () => {
    const r = await agent.reportDaemon({ hostId, running: true, dockerVersion: "25.0.3" });
    if (
      r.host?.status !== DockerHostStatus.CONNECTED ||
      r.host.dockerVersion !== "25.0.3" ||
      !r.host.daemonReadyAt
    )
      throw new Error(JSON.stringify(r.host));
    return "connected 25.0.3";
  });
  await t.check("ListDockerHosts includes the host", async () => {
    const hosts = (await docker.listDockerHosts({})).hosts;
    if (!hosts.some((h) => h.id === hostId)) throw new Error(`${hosts.length} hosts without it`);
    return `${hosts.length} host(s)`;
  });
  await t.check("stopped report -> disconnected", async () => {
    const r = await agent.reportDaemon({ hostId, running: false, error: "dockerd stopped" });
    if (r.host?.status !== DockerHostStatus.DISCONNECTED) throw new Error(`status ${r.host?.status}`);
    return "disconnected";
  });
  await t.check("DecommissionDockerHost succeeds and the row is gone", async () => {
    await docker.decommissionDockerHost({ hostId });
    const e = await refusal(docker.getDockerHost({ hostId }));
    if (e.code !== Code.NotFound) throw e;
    return "NotFound after";
  });
  await t.check("negative: a node without an SDWAN peer -> an error that says SDWAN", async () => {
    const bare = await enrollTestNode(hub, `smoke-docker-bare-${stamp}`);
    const e = await refusal(docker.provisionDockerHost({ nodeId: bare.id }));
    if (!e.rawMessage.includes("SDWAN")) throw e;
    return `${Code[e.code]}: ${e.rawMessage.slice(0, 60)}...`;
  });
  await t.check("negative: another node's call on this host -> NotFound", async () => {
    const again = await docker.provisionDockerHost({ nodeId: node.id });
    const other = await enrollTestNode(hub, `smoke-docker-other-${stamp}`);
    const e = await refusal(
      createClient(DockerNodeService, nodeTransport(hub, other)).reportDaemon({
        hostId: again.host?.id ?? "",
        running: false,
      }),
    );
    if (e.code !== Code.NotFound) throw e;
    return Code[e.code];
  });
}
