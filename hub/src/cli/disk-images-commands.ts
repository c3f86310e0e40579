/**
 * `pnctl disk-images webhook create|ls|rm` and `pnctl disk-images ls`: the CI webhook a build system
 * calls after publishing a disk image, and the publications it reported (decision 0027).
 */
import { Arch, type DiskImagePublication, DiskImageService, type DiskImageWebhook } from "@powernode/proto";
import { flag } from "./args.ts";
import { type CommandGroup, table, ts, UsageError, unknownVerb } from "./shared.ts";

function webhookView(w: DiskImageWebhook) {
  return {
    id: w.id,
    name: w.name,
    secretPreview: w.secretPreview,
    status: w.status,
    receivedCount: Number(w.receivedCount),
    lastReceivedAt: ts(w.lastReceivedAt),
    createdAt: ts(w.createdAt),
  };
}

function publicationView(p: DiskImagePublication) {
  return {
    id: p.id,
    platform: p.platform,
    gitSha: p.gitSha,
    sha256: p.sha256,
    sizeBytes: Number(p.sizeBytes),
    ociRef: p.ociRef,
    firmwareRef: p.firmwareRef,
    arch: p.arch === Arch.ARM64 ? "arm64" : "amd64",
    status: p.status,
    errorMessage: p.errorMessage,
    createdAt: ts(p.createdAt),
    verifiedAt: ts(p.verifiedAt),
  };
}

export const diskImagesCommands: CommandGroup = {
  name: "disk-images",
  usage: `  disk-images webhook create <name>   (prints the URL path and the secret, once)
  disk-images webhook ls | rm <name|id>
  disk-images ls [--platform P]     (what CI reported: queued, published once its layer matched, failed)`,
  async run(ctx) {
    const svc = ctx.client(DiskImageService);
    if (ctx.verb === "ls") {
      const rows = (
        await svc.listPublications({ platform: flag(ctx.args, "platform") ?? "" })
      ).publications.map(publicationView);
      ctx.print(rows, () =>
        table([
          ["PLATFORM", "GIT SHA", "STATUS", "SHA256", "SIZE", "OCI REF", "ERROR"],
          ...rows.map((r) => [
            r.platform,
            r.gitSha.slice(0, 12),
            r.status,
            r.sha256.slice(0, 12),
            `${(r.sizeBytes / 1024 / 1024).toFixed(0)} MiB`,
            r.ociRef,
            r.errorMessage || "-",
          ]),
        ]),
      );
      return 0;
    }
    if (ctx.verb !== "webhook") return unknownVerb(ctx, diskImagesCommands);
    const action = ctx.rest[0];
    switch (action) {
      case "create": {
        const name = ctx.rest[1];
        if (!name) throw new UsageError("disk-images webhook create: missing <name>");
        const r = await svc.createWebhook({ name });
        const url = `${ctx.url}${r.path}`;
        ctx.print({ webhook: r.webhook ? webhookView(r.webhook) : undefined, url, secret: r.secret }, () => [
          `webhook ${name}: POST ${url}`,
          `secret (shown once; sign each body with HMAC-SHA256 hex in X-Powernode-Signature): ${r.secret}`,
        ]);
        return 0;
      }
      case "ls": {
        const rows = (await svc.listWebhooks({})).webhooks.map(webhookView);
        ctx.print(rows, () =>
          table([
            ["NAME", "ID", "SECRET", "STATUS", "RECEIVED", "LAST"],
            ...rows.map((r) => [
              r.name,
              r.id,
              `${r.secretPreview}...`,
              r.status,
              String(r.receivedCount),
              r.lastReceivedAt,
            ]),
          ]),
        );
        return 0;
      }
      case "rm": {
        const ref = ctx.rest[1];
        if (!ref) throw new UsageError("disk-images webhook rm: missing <name|id>");
        await svc.deleteWebhook({ webhook: ref });
        ctx.print({ deleted: ref }, () => [`deleted webhook ${ref}`]);
        return 0;
      }
      default:
        throw new UsageError(`disk-images webhook: "${action ?? ""}" is not create, ls or rm`);
    }
  },
};
