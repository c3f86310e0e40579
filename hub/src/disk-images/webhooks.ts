/** Disk-image webhooks: create (secret made here, sealed, returned once), list, delete. */
import { randomBytes } from "node:crypto";
import { desc, eq } from "drizzle-orm";
import { diskImagePublications, diskImageWebhooks } from "../db/schema/index.ts";
import type { Deps } from "../deps.ts";
import { DomainError } from "../errors.ts";
import { isUuid } from "../rpc/fields.ts";

export type WebhookRow = typeof diskImageWebhooks.$inferSelect;

export const webhookSecretContext = (id: string): string => `disk-image-webhook:${id}`;

/** A new webhook named `name` and its secret (`pndis_` + 43 base64url characters). */
export async function createWebhook(
  deps: Pick<Deps, "db" | "keys">,
  name: string,
): Promise<{ webhook: WebhookRow; secret: string }> {
  const id = crypto.randomUUID();
  const secret = `pndis_${randomBytes(32).toString("base64url")}`;
  const [webhook] = await deps.db
    .insert(diskImageWebhooks)
    .values({
      id,
      name,
      secret: deps.keys.seal(secret, webhookSecretContext(id)),
      secretPreview: secret.slice(0, 12),
    })
    .onConflictDoNothing({ target: diskImageWebhooks.name })
    .returning();
  if (!webhook) throw new DomainError("already_exists", `name: a webhook ${name} exists`);
  return { webhook, secret };
}

export function listWebhooks(deps: Pick<Deps, "db">): Promise<WebhookRow[]> {
  return deps.db.select().from(diskImageWebhooks).orderBy(diskImageWebhooks.name);
}

/** Deletes the webhook named or with id `ref`; its publications keep their rows. */
export async function deleteWebhook(deps: Pick<Deps, "db">, ref: string): Promise<void> {
  const where = isUuid(ref) ? eq(diskImageWebhooks.id, ref) : eq(diskImageWebhooks.name, ref);
  const gone = await deps.db.delete(diskImageWebhooks).where(where).returning({ id: diskImageWebhooks.id });
  if (gone.length === 0) throw new DomainError("not_found", `webhook: no webhook ${ref.slice(0, 64)}`);
}

export function listPublications(deps: Pick<Deps, "db">, platform: string) {
  const q = deps.db.select().from(diskImagePublications);
  return (platform ? q.where(eq(diskImagePublications.platform, platform)) : q)
    .orderBy(desc(diskImagePublications.createdAt))
    .limit(500);
}
