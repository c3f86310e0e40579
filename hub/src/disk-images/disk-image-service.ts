/** DiskImageService: the operator's edge over webhooks.ts and the publications. */
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { Arch, type DiskImageService } from "@powernode/proto";
import type { Deps } from "../deps.ts";
import { DomainError } from "../errors.ts";
import { nameField, textField } from "../rpc/fields.ts";
import type { PublicationRow } from "./publications.ts";
import { PLATFORM_ARCH } from "./webhook-input.ts";
import { WEBHOOK_PATH } from "./webhook-route.ts";
import { createWebhook, deleteWebhook, listPublications, listWebhooks, type WebhookRow } from "./webhooks.ts";

const ts = (d: Date | null) => (d ? timestampFromDate(d) : undefined);

function webhookProto(w: WebhookRow) {
  return {
    id: w.id,
    name: w.name,
    secretPreview: w.secretPreview,
    status: w.status,
    receivedCount: BigInt(w.receivedCount),
    lastReceivedAt: ts(w.lastReceivedAt),
    createdAt: ts(w.createdAt),
  };
}

function publicationProto(p: PublicationRow) {
  return {
    id: p.id,
    webhookId: p.webhookId ?? "",
    platform: p.platform,
    gitSha: p.gitSha,
    sha256: p.sha256,
    sizeBytes: BigInt(p.sizeBytes),
    ociRef: p.ociRef,
    firmwareRef: p.firmwareRef,
    arch: p.arch === "arm64" ? Arch.ARM64 : Arch.AMD64,
    status: p.status,
    errorMessage: p.errorMessage ?? "",
    createdAt: ts(p.createdAt),
    verifiedAt: ts(p.verifiedAt),
  };
}

export function createDiskImageService(deps: Deps): ServiceImpl<typeof DiskImageService> {
  return {
    async createWebhook(req) {
      const { webhook, secret } = await createWebhook(deps, nameField("name", req.name));
      return { webhook: webhookProto(webhook), secret, path: `${WEBHOOK_PATH}/${webhook.id}` };
    },
    async listWebhooks() {
      return { webhooks: (await listWebhooks(deps)).map(webhookProto) };
    },
    async deleteWebhook(req) {
      await deleteWebhook(deps, textField("webhook", req.webhook, { required: true, max: 64 }));
      return {};
    },
    async listPublications(req) {
      if (req.platform !== "" && !Object.hasOwn(PLATFORM_ARCH, req.platform))
        throw new DomainError(
          "invalid_argument",
          `platform: "${req.platform.slice(0, 32)}" is not one of ${Object.keys(PLATFORM_ARCH).join(", ")}`,
        );
      return { publications: (await listPublications(deps, req.platform)).map(publicationProto) };
    },
  };
}
