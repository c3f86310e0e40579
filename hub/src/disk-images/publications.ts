/**
 * Publications: a verified report becomes one row per (platform, git sha), then the hub checks the
 * artifact it names: the manifest at `oci_ref` must have a layer `sha256:<sha256>` of `size_bytes`.
 * The hub's own registry is read in process; another registry over HTTPS (or its `pnctl registry add`
 * URL and CA). Unreachable or mismatched: `failed` with the reason and `system.disk_image_publish_failed`.
 */
import { EVENTS } from "@powernode/proto";
import { and, eq } from "drizzle-orm";
import { diskImagePublications, registries } from "../db/schema/index.ts";
import type { Deps } from "../deps.ts";
import { hubRegistryHandle } from "../oci/feature.ts";
import { fetchManifest } from "../oci/index.ts";
import type { DiskImageReport } from "./webhook-input.ts";

export type PublicationRow = typeof diskImagePublications.$inferSelect;

export type RecordResult =
  | { status: "queued" | "idempotent_hit"; publication: PublicationRow }
  | { status: "conflict"; message: string };

/** Records `report` from webhook `webhookId`; `queued` rows are then verified by {@link verifyPublication}. */
export async function recordReport(
  deps: Pick<Deps, "db">,
  webhookId: string,
  report: DiskImageReport,
): Promise<RecordResult> {
  const key = and(
    eq(diskImagePublications.platform, report.platform),
    eq(diskImagePublications.gitSha, report.gitSha),
  );
  const [inserted] = await deps.db
    .insert(diskImagePublications)
    .values({ webhookId, ...report })
    .onConflictDoNothing()
    .returning();
  if (inserted) return { status: "queued", publication: inserted };
  const [existing] = await deps.db.select().from(diskImagePublications).where(key);
  if (!existing)
    throw new Error(`publication ${report.platform} ${report.gitSha}: neither inserted nor found`);
  if (existing.sha256 !== report.sha256 || existing.sizeBytes !== report.sizeBytes)
    return {
      status: "conflict",
      message: `sha256: ${report.platform} at ${report.gitSha} was reported as ${existing.sha256} (${existing.sizeBytes} bytes); a build of the same commit must be byte-identical`,
    };
  if (existing.status !== "failed" && existing.ociRef === report.ociRef)
    return { status: "idempotent_hit", publication: existing };
  // A failed one reported again (the upload finished since, or a new location): verify again.
  const [again] = await deps.db
    .update(diskImagePublications)
    .set({ status: "queued", ociRef: report.ociRef, errorMessage: null, webhookId, updatedAt: new Date() })
    .where(eq(diskImagePublications.id, existing.id))
    .returning();
  return { status: "queued", publication: again ?? existing };
}

/** `host[:port]`, repository and tag-or-digest of a reference `parseReport` accepted. */
export function splitRef(ref: string): { host: string; repository: string; reference: string } {
  const slash = ref.indexOf("/");
  const host = ref.slice(0, slash);
  const rest = ref.slice(slash + 1);
  const at = rest.indexOf("@");
  if (at >= 0) return { host, repository: rest.slice(0, at), reference: rest.slice(at + 1) };
  const colon = rest.lastIndexOf(":");
  return { host, repository: rest.slice(0, colon), reference: rest.slice(colon + 1) };
}

/** The hub's own `host:port` names: its listeners' ports on its loopback, node and configured names. */
function ownAuthorities(deps: Pick<Deps, "config">): Set<string> {
  const { config } = deps;
  const hosts = ["localhost", "127.0.0.1", "[::1]", ...config.hostnames];
  for (const u of [config.nodeUrl, config.nodeHttpUrl]) hosts.push(new URL(u).hostname);
  const ports = [config.httpPort, config.mtlsPort];
  return new Set(hosts.flatMap((h) => ports.map((p) => `${h}:${p}`)));
}

/**
 * The manifest at `ref` (lib/oci's fetchManifest: bounded, digest-checked), from the hub's registry
 * in process or over HTTPS at the URL and CA the registry was added with; throws naming what failed.
 */
async function manifestAt(deps: Deps, ref: string): Promise<unknown> {
  const { host, repository, reference } = splitRef(ref);
  let base = "http://hub";
  let f: typeof fetch;
  if (ownAuthorities(deps).has(host)) {
    const handle = hubRegistryHandle(deps);
    // fetchManifest calls with a URL string.
    f = (async (input: string, init?: RequestInit) =>
      (await handle(new Request(input, init))) ?? new Response(null, { status: 404 })) as typeof fetch;
  } else {
    const [known] = await deps.db.select().from(registries).where(eq(registries.host, host));
    base = known?.url ?? `https://${host}`;
    f = ((input: string, init?: RequestInit) =>
      fetch(input, {
        ...init,
        signal: AbortSignal.timeout(10_000),
        ...(known?.caPem ? { tls: { ca: known.caPem } } : {}),
      } as RequestInit)) as typeof fetch;
  }
  try {
    return (await fetchManifest(base, repository, reference, { fetch: f })).json;
  } catch (e) {
    throw new Error(`${ref}: ${(e as Error).message}`);
  }
}

/** Verifies one queued publication and records the outcome (and its event). */
export async function verifyPublication(deps: Deps, id: string): Promise<PublicationRow | undefined> {
  const [row] = await deps.db.select().from(diskImagePublications).where(eq(diskImagePublications.id, id));
  if (row?.status !== "queued") return row;
  let failure: string | undefined;
  try {
    const manifest = (await manifestAt(deps, row.ociRef)) as {
      layers?: { digest?: unknown; size?: unknown }[];
    };
    const layer = (manifest.layers ?? []).find((l) => l.digest === `sha256:${row.sha256}`);
    if (!layer) failure = `${row.ociRef}: no layer sha256:${row.sha256} in its manifest`;
    else if (layer.size !== row.sizeBytes)
      failure = `${row.ociRef}: layer sha256:${row.sha256} is ${layer.size} bytes, the report says ${row.sizeBytes}`;
  } catch (e) {
    failure = (e as Error).message;
  }
  const now = new Date();
  const [done] = await deps.db
    .update(diskImagePublications)
    .set(
      failure
        ? { status: "failed", errorMessage: failure.slice(0, 1024), updatedAt: now }
        : { status: "published", errorMessage: null, verifiedAt: now, updatedAt: now },
    )
    .where(and(eq(diskImagePublications.id, id), eq(diskImagePublications.status, "queued")))
    .returning();
  if (!done) return row;
  const payload = {
    publicationId: done.id,
    platform: done.platform,
    gitSha: done.gitSha,
    sha256: done.sha256,
    ociRef: done.ociRef,
  };
  if (failure)
    await deps.events.emit(EVENTS.diskImagePublishFailed, {
      ...payload,
      reason: "processing_error",
      message: failure,
    });
  else await deps.events.emit(EVENTS.diskImagePublished, { ...payload, sizeBytes: done.sizeBytes });
  return done;
}

/** Verifies every queued publication (the job: after a restart, or a report whose check was cut). */
export async function verifyQueued(deps: Deps): Promise<number> {
  const queued = await deps.db
    .select({ id: diskImagePublications.id })
    .from(diskImagePublications)
    .where(eq(diskImagePublications.status, "queued"));
  for (const q of queued) await verifyPublication(deps, q.id);
  return queued.length;
}
