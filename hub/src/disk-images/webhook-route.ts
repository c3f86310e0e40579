/**
 * `POST /webhooks/disk-image/built/<webhook id>` on the operator listener: a CI system reports a built
 * disk image. No operator token: the body's HMAC-SHA256 with the webhook's secret
 * (`X-Powernode-Signature`) authenticates it. Every answer is HTTP 200 with
 * `{success, status, reason?, message?, publication_id?}` (status `queued`, `idempotent_hit` or
 * `error`), never a 500: a CI system reads the reason, not the status code. The body is read up to
 * 64 KiB; the artifact is verified after the answer (publications.ts).
 */

import { eq, sql } from "drizzle-orm";
import { Elysia } from "elysia";
import { diskImageWebhooks } from "../db/schema/index.ts";
import type { Deps } from "../deps.ts";
import { isUuid } from "../rpc/fields.ts";
import { recordReport, verifyPublication } from "./publications.ts";
import {
  MAX_WEBHOOK_BODY_BYTES,
  parseReport,
  signatureMatches,
  type WebhookReason,
} from "./webhook-input.ts";
import { webhookSecretContext } from "./webhooks.ts";

export const WEBHOOK_PATH = "/webhooks/disk-image/built";

type Answer =
  | { success: true; status: "queued" | "idempotent_hit"; publication_id: string }
  | { success: false; status: "error"; reason: WebhookReason; message: string };

const answer = (a: Answer) => Response.json(a, { status: 200 });
const error = (reason: WebhookReason, message: string) =>
  answer({ success: false, status: "error", reason, message });

/** The body, at most `max` bytes; undefined when it is longer (reading stops there). */
async function readBounded(request: Request, max: number): Promise<Uint8Array | undefined> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > max) return undefined;
  if (!request.body) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > max) {
      await reader.cancel().catch(() => {});
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

async function handle(deps: Deps, id: string, request: Request): Promise<Response> {
  const body = await readBounded(request, MAX_WEBHOOK_BODY_BYTES).catch(() => undefined);
  if (body === undefined)
    return error("invalid_payload", `body: unreadable or over ${MAX_WEBHOOK_BODY_BYTES} bytes`);
  if (!isUuid(id)) return error("unknown_webhook", "webhook id: not a UUID");
  const [hook] = await deps.db.select().from(diskImageWebhooks).where(eq(diskImageWebhooks.id, id));
  if (hook?.status !== "active") return error("unknown_webhook", `webhook ${id}: none active with this id`);
  const secret = deps.keys.open(hook.secret, webhookSecretContext(hook.id));
  if (!signatureMatches(secret, body, request.headers.get("x-powernode-signature")))
    return error(
      "bad_signature",
      "X-Powernode-Signature: not the HMAC-SHA256 hex of the body with this webhook's secret",
    );
  await deps.db
    .update(diskImageWebhooks)
    .set({ receivedCount: sql`${diskImageWebhooks.receivedCount} + 1`, lastReceivedAt: new Date() })
    .where(eq(diskImageWebhooks.id, hook.id));
  const report = parseReport(body);
  if (!report.ok) return error(report.reason, report.message);
  const recorded = await recordReport(deps, hook.id, report.value);
  if (recorded.status === "conflict") return error("invalid_payload", recorded.message);
  if (recorded.status === "queued")
    void verifyPublication(deps, recorded.publication.id).catch((e: unknown) =>
      deps.log.warn("verifying a disk image publication", { id: recorded.publication.id, error: e }),
    );
  return answer({ success: true, status: recorded.status, publication_id: recorded.publication.id });
}

/** The webhook route. */
export function webhookRoutes(deps: Deps) {
  const log = deps.log.child({ component: "disk-image-webhook" });
  return new Elysia({ name: "disk-image-webhook" }).post(
    `${WEBHOOK_PATH}/:id`,
    async ({ params, request }) => {
      try {
        return await handle(deps, params.id, request);
      } catch (e) {
        log.error("disk image webhook", { webhook: params.id.slice(0, 64), error: e });
        return error("processing_error", "the hub could not record the report; retry later");
      }
    },
    { parse: "none" },
  );
}
