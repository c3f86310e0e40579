/**
 * OVN deployments and their logical topology (switches, routers, ports, ACLs). The hub keeps the model
 * and compiles it: the deployment's ovn-nbctl plan (ovn-plan.ts) and, for every heavyweight node that is
 * a member of the deployment's network while it is active, the `ovn_control` ovn-controller needs.
 * A lightweight node, or any node while the deployment is bootstrapping or degraded, gets none.
 */
import { createHash } from "node:crypto";
import { isIP } from "node:net";
import { EVENTS } from "@powernode/proto";
import { and, asc, eq, inArray } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import {
  networkMembers,
  ovnAcls,
  ovnDeployments,
  ovnLogicalPorts,
  ovnLogicalRouters,
  ovnLogicalSwitches,
} from "../db/schema/index.ts";
import type { Deps } from "../deps.ts";
import type { NodeRow, Tx } from "../desired-state/index.ts";
import { DomainError } from "../errors.ts";
import { formatIpv6, parseIpv6 } from "../network/addresses.ts";
import { resolveNetwork } from "../network/networks.ts";
import { getInstance } from "../provision/instances.ts";
import { choiceField, intField, isUuid } from "../rpc/fields.ts";
import { ovnPlan, planDigest, portMac } from "./ovn-plan.ts";

export type DeploymentRow = typeof ovnDeployments.$inferSelect;
export type SwitchRow = typeof ovnLogicalSwitches.$inferSelect;
export type RouterRow = typeof ovnLogicalRouters.$inferSelect;
export type PortRow = typeof ovnLogicalPorts.$inferSelect;
export type AclRow = typeof ovnAcls.$inferSelect;
type SdwanDeps = Pick<Deps, "db" | "events" | "desiredState">;

const ENDPOINT_RE = /^(tcp|ssl):(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]{1,253}):\d{1,5}$/;
const OVN_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const CIDR_RE = /^([0-9a-fA-F:.]+)\/(\d{1,3})$/;

function endpointField(field: string, v: string): string {
  if (!ENDPOINT_RE.test(v))
    throw new DomainError(
      "invalid_argument",
      `${field}: "${v.slice(0, 100)}" is not tcp:HOST:PORT or ssl:HOST:PORT`,
    );
  return v;
}

function ovnName(field: string, v: string): string {
  if (!OVN_NAME_RE.test(v))
    throw new DomainError(
      "invalid_argument",
      `${field}: "${v.slice(0, 64)}" is not a name of A-Z a-z 0-9 _ . -`,
    );
  return v;
}

/** `addr/len` with the address of one family and a length that fits it. */
export function cidrField(field: string, v: string): { address: string; length: number; family: 4 | 6 } {
  const m = CIDR_RE.exec(v);
  const family = m ? isIP(m[1] as string) : 0;
  const length = Number(m?.[2]);
  if (!m || family === 0 || length > (family === 4 ? 32 : 128))
    throw new DomainError("invalid_argument", `${field}: "${v.slice(0, 60)}" is not a CIDR (addr/len)`);
  return { address: m[1] as string, length, family: family as 4 | 6 };
}

export async function resolveDeployment(db: Db | Tx, ref: string): Promise<DeploymentRow> {
  if (ref === "") throw new DomainError("invalid_argument", "deployment: required (an id or a name)");
  const where = isUuid(ref.toLowerCase())
    ? eq(ovnDeployments.id, ref.toLowerCase())
    : eq(ovnDeployments.name, ref);
  const [row] = await db.select().from(ovnDeployments).where(where);
  if (!row) throw new DomainError("not_found", `deployment: no OVN deployment "${ref.slice(0, 100)}"`);
  return row;
}

export async function createDeployment(
  deps: SdwanDeps,
  input: { name: string; nbEndpoint: string; sbEndpoint: string; northdHost: string; network: string },
): Promise<DeploymentRow> {
  const name = ovnName("name", input.name);
  const network = await resolveNetwork(deps.db, input.network);
  const [clash] = await deps.db.select().from(ovnDeployments).where(eq(ovnDeployments.name, name));
  if (clash) throw new DomainError("already_exists", `name: an OVN deployment "${name}" exists`);
  const [row] = await deps.db
    .insert(ovnDeployments)
    .values({
      name,
      nbEndpoint: endpointField("nb_endpoint", input.nbEndpoint),
      sbEndpoint: endpointField("sb_endpoint", input.sbEndpoint),
      northdHost: ovnName("northd_host", input.northdHost),
      networkId: network.id,
    })
    .returning();
  if (!row) throw new Error(`deployment ${name}: no row`);
  await deps.events.emit(EVENTS.sdwanOvnDeploymentState, { deployment: name, state: row.state });
  return row;
}

const MOVES: Record<DeploymentRow["state"], readonly DeploymentRow["state"][]> = {
  bootstrapping: ["active"],
  active: ["degraded"],
  degraded: ["active"],
};

/** Moves a deployment's state; every heavyweight member of its network is recompiled (ovn_control). */
export async function setDeploymentState(
  deps: SdwanDeps,
  ref: string,
  state: string,
): Promise<DeploymentRow> {
  const d = await resolveDeployment(deps.db, ref);
  const to = choiceField("state", state, ["bootstrapping", "active", "degraded"] as const);
  if (to === d.state) return d;
  if (!MOVES[d.state].includes(to))
    throw new DomainError(
      "precondition",
      `state: ${d.name} is ${d.state}; it can become ${MOVES[d.state].join(" or ")}`,
    );
  const [row] = await deps.db
    .update(ovnDeployments)
    .set({ state: to, updatedAt: new Date() })
    .where(eq(ovnDeployments.id, d.id))
    .returning();
  if (!row) throw new Error(`deployment ${d.id}: no row`);
  await deps.events.emit(EVENTS.sdwanOvnDeploymentState, {
    deployment: row.name,
    state: row.state,
    was: d.state,
  });
  await recompileMembers(deps, row);
  return row;
}

/** Recompiles every member of the deployment's network (ovn_control, its local ports, ovn_central). */
async function recompileMembers(deps: SdwanDeps, d: Pick<DeploymentRow, "networkId">) {
  const members = await deps.db
    .select({ nodeId: networkMembers.instanceId })
    .from(networkMembers)
    .where(eq(networkMembers.networkId, d.networkId));
  for (const m of members) if (m.nodeId) await deps.desiredState.change(m.nodeId);
}

async function switchOf(db: Db | Tx, d: DeploymentRow, ref: string): Promise<SwitchRow> {
  const [s] = await db
    .select()
    .from(ovnLogicalSwitches)
    .where(and(eq(ovnLogicalSwitches.deploymentId, d.id), eq(ovnLogicalSwitches.name, ref)));
  if (!s) throw new DomainError("not_found", `switch: no logical switch "${ref.slice(0, 64)}" in ${d.name}`);
  return s;
}

export async function createSwitch(deps: SdwanDeps, ref: string, name: string, subnet: string) {
  const d = await resolveDeployment(deps.db, ref);
  cidrField("subnet", subnet);
  const n = ovnName("name", name);
  const [clash] = await deps.db
    .select()
    .from(ovnLogicalSwitches)
    .where(and(eq(ovnLogicalSwitches.deploymentId, d.id), eq(ovnLogicalSwitches.name, n)));
  if (clash) throw new DomainError("already_exists", `name: ${d.name} has a logical switch "${n}"`);
  const [row] = await deps.db
    .insert(ovnLogicalSwitches)
    .values({ deploymentId: d.id, name: n, subnet })
    .returning();
  await recompileMembers(deps, d);
  return row as SwitchRow;
}

export async function createRouter(deps: SdwanDeps, ref: string, name: string) {
  const d = await resolveDeployment(deps.db, ref);
  const n = ovnName("name", name);
  const [clash] = await deps.db
    .select()
    .from(ovnLogicalRouters)
    .where(and(eq(ovnLogicalRouters.deploymentId, d.id), eq(ovnLogicalRouters.name, n)));
  if (clash) throw new DomainError("already_exists", `name: ${d.name} has a logical router "${n}"`);
  const [row] = await deps.db.insert(ovnLogicalRouters).values({ deploymentId: d.id, name: n }).returning();
  await recompileMembers(deps, d);
  return row as RouterRow;
}

export async function createPort(
  deps: SdwanDeps,
  input: {
    deployment: string;
    switch: string;
    name: string;
    kind: string;
    nodeId: string;
    router: string;
    address: string;
  },
): Promise<PortRow> {
  const d = await resolveDeployment(deps.db, input.deployment);
  const sw = await switchOf(deps.db, d, input.switch);
  const name = ovnName("name", input.name);
  const kind = choiceField("kind", input.kind, ["vm", "container", "router"] as const);
  const subnet = cidrField("subnet", sw.subnet);
  if (isIP(input.address) !== subnet.family)
    throw new DomainError(
      "invalid_argument",
      `address: "${input.address.slice(0, 60)}" is not an IPv${subnet.family} address (the switch's subnet is ${sw.subnet})`,
    );
  let nodeId: string | null = null;
  let routerId: string | null = null;
  if (kind === "router") {
    const [r] = await deps.db
      .select()
      .from(ovnLogicalRouters)
      .where(and(eq(ovnLogicalRouters.deploymentId, d.id), eq(ovnLogicalRouters.name, input.router)));
    if (!r)
      throw new DomainError(
        "not_found",
        `router: no logical router "${input.router.slice(0, 64)}" in ${d.name}`,
      );
    routerId = r.id;
  } else {
    nodeId = (await getInstance(deps, input.nodeId, "node_id")).id;
  }
  const [clash] = await deps.db
    .select()
    .from(ovnLogicalPorts)
    .where(and(eq(ovnLogicalPorts.switchId, sw.id), eq(ovnLogicalPorts.name, name)));
  if (clash) throw new DomainError("already_exists", `name: ${sw.name} has a port "${name}"`);
  const id = crypto.randomUUID();
  const [row] = await deps.db
    .insert(ovnLogicalPorts)
    .values({ id, switchId: sw.id, name, kind, nodeId, routerId, address: input.address, mac: portMac(id) })
    .returning();
  await recompileMembers(deps, d);
  return row as PortRow;
}

export async function createAcl(
  deps: SdwanDeps,
  input: {
    deployment: string;
    switch: string;
    direction: string;
    priority: number;
    match: string;
    action: string;
  },
): Promise<AclRow> {
  const d = await resolveDeployment(deps.db, input.deployment);
  const sw = await switchOf(deps.db, d, input.switch);
  const direction = choiceField("direction", input.direction, ["from-lport", "to-lport"] as const);
  const action = choiceField("action", input.action, ["allow", "allow-related", "drop", "reject"] as const);
  const priority = intField("priority", input.priority, 0, 32767);
  if (input.match === "" || input.match.length > 1024 || /[\n\r"]/.test(input.match))
    throw new DomainError(
      "invalid_argument",
      "match: required, one line, no double quotes, at most 1024 characters",
    );
  const [row] = await deps.db
    .insert(ovnAcls)
    .values({
      switchId: sw.id,
      direction,
      priority,
      match: input.match,
      action,
    })
    .returning();
  await recompileMembers(deps, d);
  return row as AclRow;
}

/** The deployment's plan from its rows. */
export async function planFor(db: Db | Tx, ref: string): Promise<string[][]> {
  const d = await resolveDeployment(db, ref);
  const switches = await db
    .select()
    .from(ovnLogicalSwitches)
    .where(eq(ovnLogicalSwitches.deploymentId, d.id))
    .orderBy(asc(ovnLogicalSwitches.name));
  const routers = await db.select().from(ovnLogicalRouters).where(eq(ovnLogicalRouters.deploymentId, d.id));
  const ids = switches.map((s) => s.id);
  const ports = ids.length
    ? await db.select().from(ovnLogicalPorts).where(inArray(ovnLogicalPorts.switchId, ids))
    : [];
  const acls = ids.length ? await db.select().from(ovnAcls).where(inArray(ovnAcls.switchId, ids)) : [];
  const sw = new Map(switches.map((s) => [s.id, s]));
  const rt = new Map(routers.map((r) => [r.id, r.name]));
  return ovnPlan({
    switches,
    routers,
    ports: ports.map((p) => ({
      name: p.name,
      switchName: sw.get(p.switchId)?.name ?? "",
      kind: p.kind,
      nodeId: p.nodeId,
      routerName: p.routerId ? (rt.get(p.routerId) ?? null) : null,
      address: p.address,
      mac: p.mac,
      prefixLength: Number(sw.get(p.switchId)?.subnet.split("/")[1] ?? 0),
    })),
    acls: acls.map((a) => ({
      switchName: sw.get(a.switchId)?.name ?? "",
      direction: a.direction,
      priority: a.priority,
      match: a.match,
      action: a.action,
    })),
  });
}

/** The active deployments in whose networks `nodeId` is a member, by name, with its overlay address there. */
const activeDeploymentsOf = (tx: Db | Tx, nodeId: string) =>
  tx
    .select({ d: ovnDeployments, address: networkMembers.address })
    .from(ovnDeployments)
    .innerJoin(
      networkMembers,
      and(eq(networkMembers.networkId, ovnDeployments.networkId), eq(networkMembers.instanceId, nodeId)),
    )
    .where(eq(ovnDeployments.state, "active"))
    .orderBy(asc(ovnDeployments.name));

/** ovn-controller's settings for `node`: heavyweight, a member of an active deployment's network. */
export async function ovnControlFor(tx: Db | Tx, node: Pick<NodeRow, "id" | "networkProfile">) {
  if (node.networkProfile !== "heavyweight") return undefined;
  const rows = await activeDeploymentsOf(tx, node.id);
  const first = rows[0];
  if (!first) return undefined;
  const ports = await tx
    .select({ p: ovnLogicalPorts, subnet: ovnLogicalSwitches.subnet })
    .from(ovnLogicalPorts)
    .innerJoin(ovnLogicalSwitches, eq(ovnLogicalSwitches.id, ovnLogicalPorts.switchId))
    .where(and(eq(ovnLogicalSwitches.deploymentId, first.d.id), eq(ovnLogicalPorts.nodeId, node.id)))
    .orderBy(asc(ovnLogicalPorts.name));
  return {
    deployment: first.d.name,
    sbDbEndpoint: first.d.sbEndpoint,
    encapType: "geneve",
    encapIp: first.address,
    systemId: node.id,
    ports: ports.map(({ p, subnet }) => localPort(p, subnet)),
  };
}

/** A vm or container port as the node it is bound to makes it (an internal port on br-int). */
export const localPort = (p: Pick<PortRow, "id" | "name" | "mac" | "address">, subnet: string) => ({
  name: p.name,
  interfaceName: `ovn-${createHash("sha256").update(p.id).digest("hex").slice(0, 10)}`,
  mac: p.mac,
  address: `${p.address}/${subnet.split("/")[1] ?? ""}`,
});

/** `tcp:[fd00::1]:6641` -> `ptcp:6641:[fd00::1]` (ovsdb-server's listening form); undefined for ssl:. */
export function listenOf(endpoint: string): { host: string; listen: string } | undefined {
  const m = /^tcp:(\[[0-9a-fA-F:]+\]|[0-9.]+):(\d{1,5})$/.exec(endpoint);
  if (!m) return undefined;
  const host = (m[1] as string).replace(/^\[|\]$/g, "");
  return { host, listen: `ptcp:${m[2]}:${m[1]}` };
}

/**
 * The central control plane `node` runs: for each active deployment whose NB endpoint's host is the
 * node's overlay address in the deployment's network (the first by name), its listeners and plan.
 */
export async function ovnCentralFor(tx: Db | Tx, node: Pick<NodeRow, "id">) {
  const rows = await activeDeploymentsOf(tx, node.id);
  for (const { d, address } of rows) {
    const nb = listenOf(d.nbEndpoint);
    const sb = listenOf(d.sbEndpoint);
    // Both databases listen here: both endpoints must name this node's address.
    if (!nb || !sb || ![nb.host, sb.host].every((h) => canonicalIp(h) === canonicalIp(address))) continue;
    const plan = await planFor(tx, d.id);
    return {
      deployment: d.name,
      nbListen: nb.listen,
      sbListen: sb.listen,
      plan: plan.map((args) => ({ args })),
      planSha256: planDigest(plan),
    };
  }
  return undefined;
}

/** An address in one text form (IPv6 canonical; IPv4 as it is) for comparing. */
const canonicalIp = (a: string): string => {
  const g = parseIpv6(a);
  return g ? formatIpv6(g) : a;
};
