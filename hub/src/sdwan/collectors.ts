/**
 * IPFIX collectors: where OVS bridges export flow records. Enabling, disabling or deleting one
 * recompiles every node with an active OVS bridge.
 */
import { EVENTS } from "@powernode/proto";
import { asc, eq } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { ipfixCollectors } from "../db/schema/index.ts";
import type { Deps } from "../deps.ts";
import type { Tx } from "../desired-state/index.ts";
import { DomainError } from "../errors.ts";
import { HOST_OR_ADDRESS_RE, isUuid } from "../rpc/fields.ts";
import { nodesWithOvsBridges } from "./bridges.ts";

export type CollectorRow = typeof ipfixCollectors.$inferSelect;
type SdwanDeps = Pick<Deps, "db" | "events" | "desiredState">;

export interface CollectorInput {
  name: string;
  host: string;
  port: number;
  sampling: number;
}

/** Creates an enabled collector; OVS bridges export to it from their next desired state. */
export async function createCollector(deps: SdwanDeps, input: CollectorInput): Promise<CollectorRow> {
  const host = input.host.replace(/^\[(.*)\]$/, "$1");
  if (host === "" || host.length > 253 || !HOST_OR_ADDRESS_RE.test(host))
    throw new DomainError(
      "invalid_argument",
      `host: "${input.host.slice(0, 100)}" is not an address or host name`,
    );
  const [clash] = await deps.db.select().from(ipfixCollectors).where(eq(ipfixCollectors.name, input.name));
  if (clash) throw new DomainError("already_exists", `name: an IPFIX collector "${input.name}" exists`);
  const [row] = await deps.db
    .insert(ipfixCollectors)
    .values({ name: input.name, host, port: input.port, sampling: input.sampling })
    .returning();
  if (!row) throw new Error(`collector ${input.name}: no row`);
  await attachedChanged(deps, row, true);
  return row;
}

/** A collector by id or name. */
export async function resolveCollector(db: Db | Tx, ref: string): Promise<CollectorRow> {
  if (ref === "") throw new DomainError("invalid_argument", "collector: required (an id or a name)");
  const where = isUuid(ref.toLowerCase())
    ? eq(ipfixCollectors.id, ref.toLowerCase())
    : eq(ipfixCollectors.name, ref);
  const [row] = await db.select().from(ipfixCollectors).where(where);
  if (!row) throw new DomainError("not_found", `collector: no IPFIX collector "${ref.slice(0, 100)}"`);
  return row;
}

export async function setCollectorEnabled(
  deps: SdwanDeps,
  ref: string,
  enabled: boolean,
): Promise<CollectorRow> {
  const c = await resolveCollector(deps.db, ref);
  if (c.enabled === enabled) return c;
  const [row] = await deps.db
    .update(ipfixCollectors)
    .set({ enabled, updatedAt: new Date() })
    .where(eq(ipfixCollectors.id, c.id))
    .returning();
  if (!row) throw new Error(`collector ${c.id}: no row`);
  await attachedChanged(deps, row, enabled);
  return row;
}

export async function deleteCollector(deps: SdwanDeps, ref: string): Promise<void> {
  const c = await resolveCollector(deps.db, ref);
  await deps.db.delete(ipfixCollectors).where(eq(ipfixCollectors.id, c.id));
  if (c.enabled) await attachedChanged(deps, c, false);
}

export const listCollectors = (db: Db | Tx): Promise<CollectorRow[]> =>
  db.select().from(ipfixCollectors).orderBy(asc(ipfixCollectors.name));

export const enabledCollectors = (db: Db | Tx): Promise<CollectorRow[]> =>
  db
    .select()
    .from(ipfixCollectors)
    .where(eq(ipfixCollectors.enabled, true))
    .orderBy(asc(ipfixCollectors.name));

async function attachedChanged(deps: SdwanDeps, c: CollectorRow, attached: boolean) {
  const nodes = await nodesWithOvsBridges(deps.db);
  await deps.events.emit(attached ? EVENTS.sdwanIpfixCollectorAttached : EVENTS.sdwanIpfixCollectorDetached, {
    collector: c.name,
    host: c.host,
    port: c.port,
    sampling: c.sampling,
    nodes: nodes.length,
  });
  for (const n of nodes) await deps.desiredState.change(n);
}
