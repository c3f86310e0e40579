/**
 * Subnet advertisements: a prefix one member of a network routes (a K3s cluster's pod subnet from its
 * bootstrap server). Recorded for the SDWAN plan, which will put them in peers' AllowedIPs; nothing
 * routes them yet.
 */
import { eq } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { subnetAdvertisements } from "../db/schema/index.ts";
import type { Tx } from "../desired-state/index.ts";

export type SubnetAdvertisementRow = typeof subnetAdvertisements.$inferSelect;
export type SubnetSource = SubnetAdvertisementRow["source"];

export async function advertiseSubnet(
  tx: Tx,
  input: { networkId: string; memberId: string; source: SubnetSource; prefix: string },
): Promise<SubnetAdvertisementRow> {
  const [row] = await tx
    .insert(subnetAdvertisements)
    .values({ ...input, active: true })
    .returning();
  if (!row) throw new Error(`subnet advertisement ${input.prefix}: no row returned`);
  return row;
}

export async function getSubnetAdvertisement(
  db: Db | Tx,
  id: string,
): Promise<SubnetAdvertisementRow | undefined> {
  const [row] = await db.select().from(subnetAdvertisements).where(eq(subnetAdvertisements.id, id));
  return row;
}

export async function withdrawSubnet(tx: Tx, id: string): Promise<void> {
  await tx.delete(subnetAdvertisements).where(eq(subnetAdvertisements.id, id));
}
