/**
 * Pass 8, db tier: the disk-image CI webhook (decision 0027) against a real hub. A webhook made with
 * pnctl; a disk image artifact pushed to the hub's registry; the signed report is queued, verified
 * against the artifact's layer and published (row and event); the same git sha again is an
 * idempotent hit; every error reason (bad_signature, unknown_webhook, invalid_payload,
 * unknown_platform, processing_error for an unreachable registry and for a missing layer); then 1,000
 * random and malformed bodies, signatures and ids: every answer HTTP 200 with a reason, RSS bounded.
 */
import { randomBytes } from "node:crypto";
import { EVENTS } from "@powernode/proto";
import { eq } from "drizzle-orm";
import { cliFor } from "../../hub/src/cli/test-cli.ts";
import { diskImagePublications } from "../../hub/src/db/schema/index.ts";
import { signBody } from "../../hub/src/disk-images/webhook-input.ts";
import { pushArtifact } from "../../hub/src/oci/index.ts";
import type { SmokeHub } from "../lib/hub.ts";
import type { PassContext } from "../lib/pass.ts";
import { waitFor } from "../lib/wait.ts";

const REASONS = new Set([
  "bad_signature",
  "invalid_payload",
  "unknown_webhook",
  "unknown_platform",
  "processing_error",
]);

interface Answer {
  success: boolean;
  status: string;
  reason?: string;
  message?: string;
  publication_id?: string;
}

const hex = (n: number) => randomBytes(n).toString("hex");

export async function diskImageWebhookChecks(t: PassContext, s: SmokeHub): Promise<void> {
  const { hub } = s;
  const pnctl = cliFor(() => hub);
  const registryHost = new URL(hub.httpUrl).host;

  let hook = { id: "", secret: "", url: "" };
  await t.check("pnctl disk-images webhook create: a URL and a pndis_ secret, shown once", async () => {
    const r = await pnctl("disk-images", "webhook", "create", "ci-images", "--json");
    if (r.code !== 0) throw new Error(r.err);
    const out = JSON.parse(r.out) as { webhook: { id: string }; url: string; secret: string };
    if (!/^pndis_[A-Za-z0-9_-]{43}$/.test(out.secret)) throw new Error(`secret ${out.secret.slice(0, 8)}...`);
    hook = { id: out.webhook.id, secret: out.secret, url: out.url };
    const ls = JSON.parse((await pnctl("disk-images", "webhook", "ls", "--json")).out) as {
      secretPreview: string;
    }[];
    if (JSON.stringify(ls).includes(out.secret)) throw new Error("webhook ls shows the secret");
    return `${out.url}; ls shows ${ls[0]?.secretPreview}...`;
  });

  const post = async (
    body: Uint8Array | string,
    signature: string | undefined,
    id = hook.id,
  ): Promise<Answer> => {
    const res = await fetch(`${hub.httpUrl}/webhooks/disk-image/built/${id}`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(signature ? { "x-powernode-signature": signature } : {}),
      },
      body,
    });
    if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${(await res.text()).slice(0, 200)}`);
    return (await res.json()) as Answer;
  };
  const signed = (doc: unknown) => {
    const body = JSON.stringify(doc);
    return post(body, signBody(hook.secret, body));
  };
  const publication = async (id: string) =>
    (await hub.deps.db.select().from(diskImagePublications).where(eq(diskImagePublications.id, id)))[0];
  const settled = (id: string) =>
    waitFor(
      "the publication to be verified",
      async () => {
        const row = await publication(id);
        return row && row.status !== "queued" ? row : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 100 },
    );

  // A disk image as CI would push it: one layer, the image file (small here; the check is the same).
  const image = randomBytes(256 * 1024);
  const imageSha = new Bun.CryptoHasher("sha256").update(image).digest("hex");
  const gitSha = hex(20);
  const tag = `git-${gitSha.slice(0, 12)}`;
  await t.step("push a disk image artifact to the hub's registry", () =>
    pushArtifact(
      hub.httpUrl,
      "images/disk-images/rpi4",
      tag,
      { layers: [{ mediaType: "application/vnd.powernode.disk-image.raw", bytes: image }] },
      { token: hub.adminToken },
    ),
  );
  const report = {
    platform_name: "rpi4",
    git_sha: gitSha,
    sha256: imageSha,
    size_bytes: image.length,
    oci_ref: `${registryHost}/images/disk-images/rpi4:${tag}`,
    firmware_ref: "1.20240306",
    arch: "arm64",
  };

  let publicationId = "";
  await t.check(
    "a signed report: queued, then published once its layer matches (row and event)",
    async () => {
      const a = await signed(report);
      if (!a.success || a.status !== "queued" || !a.publication_id) throw new Error(JSON.stringify(a));
      publicationId = a.publication_id;
      const row = await settled(publicationId);
      if (row.status !== "published") throw new Error(`status ${row.status}: ${row.errorMessage}`);
      if (
        row.sha256 !== imageSha ||
        row.sizeBytes !== image.length ||
        row.webhookId !== hook.id ||
        row.arch !== "arm64"
      )
        throw new Error(`row ${JSON.stringify(row)}`);
      const events = await s.fleet.listEvents({ kindPrefix: EVENTS.diskImagePublished.kind });
      if (!events.events.some((e) => e.payload?.publicationId === publicationId))
        throw new Error("no published event");
      return `publication ${publicationId} published, verified ${row.verifiedAt?.toISOString()}`;
    },
  );

  await t.check(
    "the same git sha again: idempotent_hit, still one row; another sha256 for it is refused",
    async () => {
      const again = await signed(report);
      if (again.status !== "idempotent_hit" || again.publication_id !== publicationId)
        throw new Error(JSON.stringify(again));
      const rows = await hub.deps.db
        .select()
        .from(diskImagePublications)
        .where(eq(diskImagePublications.gitSha, gitSha));
      if (rows.length !== 1) throw new Error(`${rows.length} rows`);
      const other = await signed({ ...report, sha256: hex(32) });
      if (other.reason !== "invalid_payload" || !other.message?.startsWith("sha256:"))
        throw new Error(JSON.stringify(other));
      return `${again.status}; a different sha256: ${other.message?.slice(0, 80)}`;
    },
  );

  await t.check("each error reason, always HTTP 200", async () => {
    const body = JSON.stringify(report);
    const seen: Record<string, string> = {};
    const expect = (what: string, a: Answer, reason: string, text?: string) => {
      if (a.success || a.status !== "error" || a.reason !== reason || (text && !a.message?.includes(text)))
        throw new Error(`${what}: ${JSON.stringify(a)}`);
      seen[reason] = a.message ?? "";
    };
    expect("wrong signature", await post(body, signBody("pndis_wrong", body)), "bad_signature");
    expect("no signature", await post(body, undefined), "bad_signature");
    expect(
      "unknown webhook",
      await post(body, signBody(hook.secret, body), crypto.randomUUID()),
      "unknown_webhook",
    );
    expect("not a uuid", await post(body, signBody(hook.secret, body), "x"), "unknown_webhook");
    const { git_sha: _g, ...noSha } = report;
    expect("no git_sha", await signed(noSha), "invalid_payload", "git_sha");
    expect(
      "unknown platform",
      await signed({ ...report, platform_name: "amiga" }),
      "unknown_platform",
      "amiga",
    );
    const big = "x".repeat(70 * 1024);
    expect("70 KiB body", await post(big, signBody(hook.secret, big)), "invalid_payload", "65536");
    return Object.entries(seen)
      .map(([r, m]) => `${r} (${m.slice(0, 50)})`)
      .join("; ");
  });

  await t.check(
    "processing_error: an unreachable registry, and an artifact without the reported layer",
    async () => {
      const unreachable = await signed({
        ...report,
        git_sha: hex(20),
        oci_ref: "127.0.0.1:1/disk-images/rpi4:x",
      });
      const noLayer = await signed({ ...report, git_sha: hex(20), sha256: hex(32) });
      const a = await settled(unreachable.publication_id ?? "");
      const b = await settled(noLayer.publication_id ?? "");
      if (a.status !== "failed" || b.status !== "failed") throw new Error(`${a.status} ${b.status}`);
      if (!b.errorMessage?.includes("no layer sha256:"))
        throw new Error(`no-layer message: ${b.errorMessage}`);
      const failed = await s.fleet.listEvents({ kindPrefix: EVENTS.diskImagePublishFailed.kind });
      const ids = new Set(failed.events.map((e) => e.payload?.publicationId));
      if (!ids.has(a.id) || !ids.has(b.id)) throw new Error("no publish_failed event for each");
      if (!failed.events.every((e) => e.payload?.reason === "processing_error"))
        throw new Error("reason not processing_error");
      return `${a.errorMessage?.slice(0, 70)}; ${b.errorMessage?.slice(0, 70)}`;
    },
  );

  await t.check(
    "1,000 random or malformed bodies, signatures and ids: every answer 200 with a reason, RSS bounded",
    async () => {
      const counts: Record<string, number> = {};
      const valid = JSON.stringify(report);
      const send = async (i: number, count: boolean) => {
        const kind = i % 8;
        let body: Uint8Array | string;
        if (kind === 0) body = randomBytes(1 + (i % 2048));
        else if (kind === 1) body = valid.slice(0, i % valid.length);
        else if (kind === 2)
          body = JSON.stringify({ ...report, size_bytes: i % 3 === 0 ? "big" : -i, git_sha: hex(20) });
        else if (kind === 3)
          body = JSON.stringify({ ...report, oci_ref: `${"a".repeat(i)}/x:y`, git_sha: hex(20) });
        else if (kind === 4) body = "[".repeat(1 + (i % 5000));
        else if (kind === 5)
          body = JSON.stringify({ platform_name: "\u0000", git_sha: null, nested: { deep: [[[i]]] } });
        else if (kind === 6) body = randomBytes(60 * 1024 + (i % 10) * 1024);
        else body = JSON.stringify({ ...report, platform_name: `p${i}`, git_sha: hex(20) });
        // Half signed correctly (the payload checks run; every unknown-platform one), the rest with a random or broken signature.
        const sig =
          i % 2 === 0 || kind === 7 ? signBody(hook.secret, body) : i % 4 === 1 ? hex(32) : "sha256=zz";
        const id = i % 50 === 49 ? (i % 100 === 99 ? crypto.randomUUID() : "zz%2F..%2Fetc") : hook.id;
        const a = await post(body, sig, id);
        if (a.success || a.status !== "error" || !REASONS.has(a.reason ?? ""))
          throw new Error(`body ${i} (kind ${kind}): ${JSON.stringify(a)}`);
        if (count) counts[a.reason ?? ""] = (counts[a.reason ?? ""] ?? 0) + 1;
      };
      // A warm-up round first (JIT, the allocator's pools for 60 KiB bodies): the bound is on growth
      // over the 1,000 that follow, not on the process's first use of these paths.
      for (let i = 0; i < 100; i++) await send(i, false);
      Bun.gc(true);
      const rssBefore = process.memoryUsage().rss;
      for (let i = 0; i < 1000; i++) await send(i, true);
      Bun.gc(true);
      const grownMib = (process.memoryUsage().rss - rssBefore) / 1024 / 1024;
      if (grownMib > 64) throw new Error(`RSS grew ${grownMib.toFixed(0)} MiB`);
      const stored = await hub.deps.db.select({ id: diskImagePublications.id }).from(diskImagePublications);
      if (stored.length !== 3) throw new Error(`${stored.length} publications stored (want the 3 real ones)`);
      return `${Object.entries(counts)
        .map(([r, n]) => `${r} ${n}`)
        .join(", ")}; RSS grew ${grownMib.toFixed(1)} MiB; 3 publications stored`;
    },
  );

  await t.check("pnctl disk-images ls shows the publications with their status", async () => {
    const r = await pnctl("disk-images", "ls", "--platform", "rpi4", "--json");
    const rows = JSON.parse(r.out) as { status: string; gitSha: string }[];
    const statuses = rows.map((x) => x.status).sort();
    if (JSON.stringify(statuses) !== JSON.stringify(["failed", "failed", "published"]))
      throw new Error(statuses.join());
    const bad = await pnctl("disk-images", "ls", "--platform", "vax");
    if (bad.code === 0 || !bad.err.includes('platform: "vax" is not one of')) throw new Error(bad.err);
    return `${rows.length} rows (${statuses.join(", ")}); a bad --platform: ${bad.err.slice(0, 70)}`;
  });
}
