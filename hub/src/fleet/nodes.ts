/** Reading nodes (instances) for the operator: paged lists and single nodes with their current certificate. */
import { and, asc, desc, eq, gt, inArray, isNull, ne, type SQL, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { certificates, instances } from "../db/schema/index.ts";
import { DomainError } from "../errors.ts";
import { isUuid } from "../rpc/fields.ts";

/** The lifecycle states of an instance. */
export type InstanceState = (typeof instances.$inferSelect)["state"];

/** An instance row plus its newest unrevoked certificate. */
export type NodeRecord = typeof instances.$inferSelect & {
  certificateSerial: string | null;
  certificateNotAfter: Date | null;
};

/** Query of {@link listNodes}. */
export interface ListNodesQuery {
  state?: InstanceState;
  pageSize?: number;
  /** Opaque: the last id of the previous page. */
  pageToken?: string;
}

function decodePageToken(token: string): string {
  const id = Buffer.from(token, "base64url").toString("utf8");
  if (!isUuid(id)) throw new DomainError("invalid_argument", "page_token: not a token from this API");
  return id;
}

async function withCertificates(db: Db, rows: (typeof instances.$inferSelect)[]): Promise<NodeRecord[]> {
  if (rows.length === 0) return [];
  const certs = await db
    .select({
      instanceId: certificates.instanceId,
      serial: certificates.serial,
      notAfter: certificates.notAfter,
    })
    .from(certificates)
    .where(
      and(
        inArray(
          certificates.instanceId,
          rows.map((r) => r.id),
        ),
        isNull(certificates.revokedAt),
      ),
    )
    .orderBy(desc(certificates.notAfter));
  const newest = new Map<string, { serial: string; notAfter: Date }>();
  for (const c of certs) if (!newest.has(c.instanceId)) newest.set(c.instanceId, c);
  return rows.map((r) => ({
    ...r,
    certificateSerial: newest.get(r.id)?.serial ?? null,
    certificateNotAfter: newest.get(r.id)?.notAfter ?? null,
  }));
}

/** Lists nodes by id order; deleted ones only when asked for by state. */
export async function listNodes(
  db: Db,
  q: ListNodesQuery,
): Promise<{ nodes: NodeRecord[]; nextPageToken: string }> {
  const pageSize = Math.min(Math.max(q.pageSize || 100, 1), 1000);
  const where: SQL[] = [q.state ? eq(instances.state, q.state) : ne(instances.state, "deleted")];
  if (q.pageToken) where.push(gt(instances.id, decodePageToken(q.pageToken)));
  const rows = await db
    .select()
    .from(instances)
    .where(and(...where))
    .orderBy(asc(instances.id))
    .limit(pageSize + 1);
  const page = rows.slice(0, pageSize);
  const last = page[page.length - 1];
  const nextPageToken = rows.length > pageSize && last ? Buffer.from(last.id).toString("base64url") : "";
  return { nodes: await withCertificates(db, page), nextPageToken };
}

/** One node by id; NotFound when missing. */
export async function getNode(db: Db, id: string): Promise<NodeRecord> {
  if (!isUuid(id)) throw new DomainError("invalid_argument", "id: not a UUID");
  const rows = await db.select().from(instances).where(eq(instances.id, id));
  const [node] = await withCertificates(db, rows);
  if (!node) throw new DomainError("not_found", `id: no node ${id}`);
  return node;
}

/** Node counts by state (for /metrics). */
export async function countNodesByState(db: Db): Promise<Map<InstanceState, number>> {
  const rows = await db
    .select({ state: instances.state, n: sql<number>`count(*)::int` })
    .from(instances)
    .groupBy(instances.state);
  return new Map(rows.map((r) => [r.state, Number(r.n)]));
}
