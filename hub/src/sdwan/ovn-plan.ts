/**
 * An OVN deployment's logical topology as an ovn-nbctl plan, a pure function: switches (with their
 * subnet), routers, then ports (a switch's ports after the switch; a router port's `lrp-add` on its
 * router and the switch side typed `router`), then ACLs, each group by name. `--may-exist` makes every
 * command idempotent, so the plan can be applied again as a whole. The same rows give the same bytes.
 */
import { createHash } from "node:crypto";

export interface PlanSwitch {
  name: string;
  subnet: string;
}
export interface PlanRouter {
  name: string;
}
export interface PlanPort {
  name: string;
  switchName: string;
  kind: "vm" | "container" | "router";
  /** The chassis (node id) a vm/container port is bound on. */
  nodeId?: string | null;
  routerName?: string | null;
  address: string;
  mac: string;
  /** The subnet's prefix length (a router port's network). */
  prefixLength: number;
}
export interface PlanAcl {
  switchName: string;
  direction: "from-lport" | "to-lport";
  priority: number;
  match: string;
  action: "allow" | "allow-related" | "drop" | "reject";
}

const byName = <T extends { name: string }>(xs: readonly T[]) =>
  [...xs].sort((a, b) => (a.name < b.name ? -1 : 1));

/** `02:` and five bytes of sha256(port id): locally administered, unicast, stable. */
export function portMac(portId: string): string {
  const h = createHash("sha256").update(portId).digest();
  return ["02", ...[...h.subarray(0, 5)].map((b) => b.toString(16).padStart(2, "0"))].join(":");
}

/** The router-side port of a router attachment: `lrp-<switch port>`. */
export const routerPortName = (port: string) => `lrp-${port}`;

export function ovnPlan(input: {
  switches: readonly PlanSwitch[];
  routers: readonly PlanRouter[];
  ports: readonly PlanPort[];
  acls: readonly PlanAcl[];
}): string[][] {
  const plan: string[][] = [];
  for (const s of byName(input.switches)) {
    plan.push(["--may-exist", "ls-add", s.name]);
    plan.push(["set", "logical_switch", s.name, `other_config:subnet=${s.subnet}`]);
  }
  for (const r of byName(input.routers)) plan.push(["--may-exist", "lr-add", r.name]);
  const ports = [...input.ports].sort((a, b) =>
    a.switchName === b.switchName ? (a.name < b.name ? -1 : 1) : a.switchName < b.switchName ? -1 : 1,
  );
  for (const p of ports) {
    if (p.kind === "router" && p.routerName) {
      const lrp = routerPortName(p.name);
      plan.push(["--may-exist", "lrp-add", p.routerName, lrp, p.mac, `${p.address}/${p.prefixLength}`]);
      plan.push(["--may-exist", "lsp-add", p.switchName, p.name]);
      plan.push(["lsp-set-type", p.name, "router"]);
      plan.push(["lsp-set-addresses", p.name, "router"]);
      plan.push(["lsp-set-options", p.name, `router-port=${lrp}`]);
    } else {
      plan.push(["--may-exist", "lsp-add", p.switchName, p.name]);
      plan.push(["lsp-set-addresses", p.name, `${p.mac} ${p.address}`]);
      if (p.nodeId)
        plan.push(["set", "logical_switch_port", p.name, `options:requested-chassis=${p.nodeId}`]);
    }
  }
  const acls = [...input.acls].sort(
    (a, b) =>
      (a.switchName < b.switchName ? -1 : a.switchName > b.switchName ? 1 : 0) ||
      b.priority - a.priority ||
      (a.direction < b.direction ? -1 : a.direction > b.direction ? 1 : 0) ||
      (a.match < b.match ? -1 : a.match > b.match ? 1 : 0),
  );
  for (const a of acls)
    plan.push(["--may-exist", "acl-add", a.switchName, a.direction, String(a.priority), a.match, a.action]);
  return plan;
}

/** sha256 of the plan's canonical JSON: equal plans, equal digests. */
export const planDigest = (plan: readonly string[][]) =>
  createHash("sha256").update(JSON.stringify(plan)).digest("hex");
