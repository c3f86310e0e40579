/**
 * Managed Docker hosts, the domain side: provision (idempotent, needs an SDWAN peer), the daemon's
 * server certificate from the node's CSR, what the node reports about its daemon, decommission, and
 * client certificates for operators. Every change that reaches the node recompiles its desired state.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import { type DockerSectionSchema, EVENTS } from "@powernode/proto";
import { asc, eq } from "drizzle-orm";
import { dockerHostKeyContext, type IssuedCertificate, parseCsr } from "../ca/index.ts";
import type { Db } from "../db/client.ts";
import { dockerHosts, instances } from "../db/schema/index.ts";
import type { Deps } from "../deps.ts";
import type { Tx } from "../desired-state/index.ts";
import { DomainError } from "../errors.ts";
import { interfaceName } from "../network/index.ts";
import { membershipsOf } from "../network/networks.ts";
import { dockerCa } from "./docker-ca.ts";

export type DockerHostRow = typeof dockerHosts.$inferSelect;
export const DOCKER_PORT = 2376;
type HostDeps = Pick<Deps, "db" | "ca" | "keys" | "events" | "desiredState">;

export const apiEndpoint = (address: string): string => `tcp://[${address}]:${DOCKER_PORT}`;
export const daemonCommonName = (nodeId: string): string => `docker-daemon-${nodeId}`;
export const clientCommonName = (name: string): string => `docker-client-${name}`;

/** Provisions the node's managed Docker host, or returns the one it has. */
export async function provisionDockerHost(
  deps: HostDeps,
  nodeId: string,
): Promise<{ host: DockerHostRow; created: boolean }> {
  const existing = await hostOfNode(deps.db, nodeId);
  if (existing) return { host: existing, created: false };
  const [node] = await deps.db.select().from(instances).where(eq(instances.id, nodeId));
  if (!node || node.state === "deleted") throw new DomainError("not_found", `node_id: no node ${nodeId}`);
  const [membership] = await membershipsOf(deps.db, nodeId);
  if (!membership)
    throw new DomainError(
      "precondition",
      `node ${node.name} has no SDWAN peer: join it to an overlay network first (pnctl net join <network> <node>), dockerd listens on its overlay address`,
    );
  const id = crypto.randomUUID();
  const ca = await dockerCa(deps);
  const client = await ca.issueClientWithKey(`docker-hub-${id}`);
  const address = membership.member.address;
  let created = false;
  await deps.desiredState.change(nodeId, async (tx) => {
    const rows = await tx
      .insert(dockerHosts)
      .values({
        id,
        instanceId: nodeId,
        networkId: membership.network.id,
        listenAddress: address,
        apiEndpoint: apiEndpoint(address),
        clientCertPem: client.pem,
        clientKeyPem: deps.keys.seal(client.keyPem, dockerHostKeyContext(id)),
        clientCertSerial: client.serial,
        clientCertNotAfter: client.notAfter,
      })
      .onConflictDoNothing({ target: dockerHosts.instanceId })
      .returning();
    created = rows.length === 1;
  });
  const host = await hostOfNode(deps.db, nodeId);
  if (!host) throw new DomainError("not_found", `node_id: no node ${nodeId}`);
  if (created)
    await deps.events.emit(
      EVENTS.dockerHostProvisioned,
      { hostId: host.id, apiEndpoint: host.apiEndpoint, networkId: host.networkId },
      { nodeId },
    );
  return { host, created };
}

export async function hostOfNode(db: Db | Tx, nodeId: string): Promise<DockerHostRow | undefined> {
  return (await db.select().from(dockerHosts).where(eq(dockerHosts.instanceId, nodeId)))[0];
}

export async function getDockerHost(db: Db, hostId: string): Promise<DockerHostRow> {
  const [host] = await db.select().from(dockerHosts).where(eq(dockerHosts.id, hostId));
  if (!host) throw new DomainError("not_found", `host_id: no Docker host ${hostId}`);
  return host;
}

export async function listDockerHosts(db: Db): Promise<DockerHostRow[]> {
  return db.select().from(dockerHosts).orderBy(asc(dockerHosts.createdAt));
}

/** Deletes the host; the node's next desired state has no Docker host, so it stops dockerd. */
export async function decommissionDockerHost(deps: HostDeps, hostId: string): Promise<DockerHostRow> {
  const host = await getDockerHost(deps.db, hostId);
  await deps.desiredState.change(host.instanceId, async (tx) => {
    await tx.delete(dockerHosts).where(eq(dockerHosts.id, hostId));
  });
  await deps.events.emit(EVENTS.dockerHostDecommissioned, { hostId }, { nodeId: host.instanceId });
  return host;
}

/** The calling node's own host (any other id is NotFound: a node sees only its own). */
async function ownHost(db: Db, nodeId: string, hostId: string): Promise<DockerHostRow> {
  const host = await hostOfNode(db, nodeId);
  if (!host || host.id !== hostId)
    throw new DomainError("not_found", `host_id: no Docker host ${hostId} on this node`);
  return host;
}

/** Signs the daemon's server certificate (CN docker-daemon-<node>, SAN the overlay address). */
export async function issueDaemonCertificate(
  deps: HostDeps,
  nodeId: string,
  input: { hostId: string; csrPem: string },
): Promise<IssuedCertificate & { caPem: string }> {
  const host = await ownHost(deps.db, nodeId, input.hostId);
  const parsed = await parseCsr(input.csrPem, daemonCommonName(nodeId), "csr_pem", daemonCommonName(nodeId));
  if (!parsed.ok) throw new DomainError("invalid_argument", parsed.error);
  const ca = await dockerCa(deps);
  const issued = await ca.issue({
    kind: "server",
    commonName: daemonCommonName(nodeId),
    address: host.listenAddress,
    publicKey: parsed.value.csr.publicKey,
  });
  await deps.db
    .update(dockerHosts)
    .set({ daemonCertSerial: issued.serial, daemonCertNotAfter: issued.notAfter, updatedAt: new Date() })
    .where(eq(dockerHosts.id, host.id));
  await deps.events.emit(
    EVENTS.dockerDaemonCertificateIssued,
    { hostId: host.id, serial: issued.serial, notAfter: issued.notAfter.toISOString() },
    { nodeId },
  );
  return { ...issued, caPem: ca.certPem };
}

/** What the node says its daemon does: running (connected, with version) or stopped (disconnected). */
export async function reportDaemon(
  deps: HostDeps,
  nodeId: string,
  input: { hostId: string; running: boolean; dockerVersion: string; error: string },
): Promise<DockerHostRow> {
  const host = await ownHost(deps.db, nodeId, input.hostId);
  const now = new Date();
  const status = input.running ? "connected" : "disconnected";
  const becameReady =
    input.running && (host.status !== "connected" || host.dockerVersion !== input.dockerVersion);
  const [row] = await deps.db
    .update(dockerHosts)
    .set({
      status,
      ...(input.running
        ? { dockerVersion: input.dockerVersion, lastError: null }
        : { lastError: input.error || null }),
      ...(becameReady ? { daemonReadyAt: now } : {}),
      lastReportAt: now,
      updatedAt: now,
    })
    .where(eq(dockerHosts.id, host.id))
    .returning();
  if (!row) throw new DomainError("not_found", `host_id: no Docker host ${input.hostId}`);
  if (host.status !== status)
    await deps.events.emit(
      input.running ? EVENTS.dockerHostConnected : EVENTS.dockerHostDisconnected,
      input.running
        ? { hostId: host.id, dockerVersion: input.dockerVersion }
        : { hostId: host.id, error: input.error },
      { nodeId },
    );
  return row;
}

/** Signs an operator's client certificate (CN docker-client-<name>): trusted by every managed daemon. */
export async function issueClientCertificate(
  deps: HostDeps,
  input: { name: string; csrPem: string },
): Promise<IssuedCertificate & { caPem: string }> {
  const cn = clientCommonName(input.name);
  const parsed = await parseCsr(input.csrPem, cn, "csr_pem", `"${cn}"`);
  if (!parsed.ok) throw new DomainError("invalid_argument", parsed.error);
  const ca = await dockerCa(deps);
  const issued = await ca.issue({ kind: "client", commonName: cn, publicKey: parsed.value.csr.publicKey });
  await deps.events.emit(EVENTS.dockerClientCertificateIssued, {
    name: input.name,
    serial: issued.serial,
    notAfter: issued.notAfter.toISOString(),
  });
  return { ...issued, caPem: ca.certPem };
}

/** The node's `docker` section. */
export async function dockerSectionOf(
  tx: Tx,
  nodeId: string,
): Promise<MessageInitShape<typeof DockerSectionSchema>> {
  const host = await hostOfNode(tx, nodeId);
  if (!host) return { enabled: false };
  const [membership] = (await membershipsOf(tx, nodeId)).filter((m) => m.network.id === host.networkId);
  return {
    enabled: true,
    hostId: host.id,
    listenAddress: host.listenAddress,
    port: DOCKER_PORT,
    networkId: host.networkId,
    interfaceName: membership ? interfaceName(membership.network.handle) : "",
  };
}
