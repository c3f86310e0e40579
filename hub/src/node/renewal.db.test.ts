/**
 * RenewCertificate against a real hub over mTLS: the window (last third of the caller's life), the
 * operator's override (an unused bootstrap token), one-way rotation (the old serial is refused once its
 * successor is used), at most two live certificates per node, and open streams cut on revocation.
 *
 * "Aging" a certificate moves its validity back in the hub's `certificates` row only (the X.509 the
 * client presents stays as issued): the window and the identity check read that row.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { NodeService, ProvisionService } from "@powernode/proto";
import { and, eq, gt, isNull, sql } from "drizzle-orm";
import {
  type EnrolledTestNode,
  enrollTestNode,
  makeCsr,
  nodeTransport,
  operatorClient,
  startTestHub,
  waitFor,
} from "../../test/harness.ts";
import { normaliseSerial } from "../ca/index.ts";
import { certificates, fleetEvents } from "../db/schema/index.ts";
import type { RunningHub } from "../hub.ts";
import { RENEWAL_RETRY_MS, renewalWindowOpens } from "./renewal.ts";

const DAY = 86_400_000;
let hub: RunningHub;

beforeAll(async () => {
  // A 1 s heartbeat interval: identity entries live 0.5 s, open streams re-check every 0.5 s.
  hub = await startTestHub({ heartbeatSeconds: 1 });
}, 30_000);
afterAll(async () => {
  await hub.stop();
});

const serialOf = (pem: string) => normaliseSerial(new X509Certificate(pem).serialNumber);

async function refusal(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (e) {
    const ce = ConnectError.from(e);
    return { code: Code[ce.code] ?? String(ce.code), message: ce.rawMessage };
  }
  return { code: "OK", message: "" };
}

/** Moves a certificate's recorded validity back by `days` (see the module comment). */
async function age(serial: string, days: number): Promise<void> {
  const shift = sql.raw(`interval '${days} days'`);
  await hub.deps.db
    .update(certificates)
    .set({
      notBefore: sql`${certificates.notBefore} - ${shift}`,
      notAfter: sql`${certificates.notAfter} - ${shift}`,
    })
    .where(eq(certificates.serial, serial));
  hub.deps.nodeIdentity.invalidateSerial(serial);
}

async function liveSerials(nodeId: string): Promise<string[]> {
  const rows = await hub.deps.db
    .select({ serial: certificates.serial })
    .from(certificates)
    .where(
      and(
        eq(certificates.instanceId, nodeId),
        isNull(certificates.revokedAt),
        gt(certificates.notAfter, new Date()),
      ),
    );
  return rows.map((r) => r.serial).sort();
}

/** A client presenting `certPem`/`keyPem`. */
function clientWith(cert: { certPem: string; keyPem: string }) {
  return createClient(NodeService, nodeTransport(hub, cert));
}

/** Renews `n`'s certificate with a fresh key; returns the new credentials and client. */
async function renew(n: Pick<EnrolledTestNode, "id" | "client">) {
  const csr = await makeCsr(n.id);
  const res = await n.client.renewCertificate({ csrPem: csr.csrPem });
  const cert = { certPem: res.certificatePem, keyPem: csr.keyPem };
  return { ...cert, serial: serialOf(res.certificatePem), client: clientWith(cert), id: n.id };
}

describe("RenewCertificate", () => {
  test("outside the window (the first two thirds of the caller's life) it is refused, naming when the window opens", async () => {
    const n = await enrollTestNode(hub, "renew-early");
    const serial = serialOf(n.certPem);
    const [row] = await hub.deps.db.select().from(certificates).where(eq(certificates.serial, serial));
    if (!row) throw new Error("no certificate row");
    const opens = renewalWindowOpens(row);
    // Two thirds of 90 days plus the 5 minutes notBefore is backdated.
    expect(opens.getTime() - row.notBefore.getTime()).toBe(60 * DAY + 200_000);
    expect(await refusal(n.client.renewCertificate({ csrPem: (await makeCsr(n.id)).csrPem }))).toEqual({
      code: "FailedPrecondition",
      message: `RenewCertificate: too early: the renewal window of certificate ${serial} opens at ${opens.toISOString()} (the last third of its life)`,
    });
    // Refused, and the caller keeps working.
    expect((await n.client.heartbeat({ bootId: "b1", agentVersion: "t" })).nextHeartbeatSeconds).toBe(1);
    expect(await liveSerials(n.id)).toEqual([serial]);
  });

  test("inside the window: a new certificate; the old one works until the new one is used, then is refused", async () => {
    const n = await enrollTestNode(hub, "renew-rotate");
    const old = serialOf(n.certPem);
    await age(old, 61);
    const next = await renew(n);
    expect(next.serial).not.toBe(old);
    expect(new X509Certificate(next.certPem).subject).toBe(`CN=${n.id}`);
    expect(await liveSerials(n.id)).toEqual([old, next.serial].sort());
    // Not used yet: the old certificate still heartbeats (the agent may not have saved the new one).
    await n.client.heartbeat({ bootId: "b1", agentVersion: "t" });
    // First use of the new certificate retires the old one.
    await next.client.heartbeat({ bootId: "b1", agentVersion: "t" });
    expect(await refusal(n.client.heartbeat({ bootId: "b1", agentVersion: "t" }))).toEqual({
      code: "Unauthenticated",
      message: "client certificate: certificate revoked",
    });
    expect(await liveSerials(n.id)).toEqual([next.serial]);
    const events = await hub.deps.db
      .select({ kind: fleetEvents.kind, payload: fleetEvents.payload })
      .from(fleetEvents)
      .where(eq(fleetEvents.nodeId, n.id));
    expect(
      events.filter((e) => e.kind.startsWith("system.certificate.")).map((e) => [e.kind, e.payload]),
    ).toEqual([
      [
        "system.certificate.renewed",
        expect.objectContaining({ serial: next.serial, previousSerial: old, early: false }),
      ],
      [
        "system.certificate.revoked",
        { serial: old, reason: `superseded: its successor ${next.serial} was used` },
      ],
    ]);
  });

  test("50 renewals in a row are not all granted: one is, the rest wait for it to be used; never more than two live", async () => {
    const n = await enrollTestNode(hub, "renew-50");
    const first = serialOf(n.certPem);
    await age(first, 61);
    const outcomes: string[] = [];
    for (let i = 0; i < 50; i++) {
      const r = await refusal(n.client.renewCertificate({ csrPem: (await makeCsr(n.id)).csrPem }));
      outcomes.push(r.code);
      expect((await liveSerials(n.id)).length).toBeLessThanOrEqual(2);
    }
    expect(outcomes.filter((c) => c === "OK")).toHaveLength(1);
    expect(outcomes.filter((c) => c === "FailedPrecondition")).toHaveLength(49);
    const last = await refusal(n.client.renewCertificate({ csrPem: (await makeCsr(n.id)).csrPem }));
    expect(last.message).toMatch(
      /^RenewCertificate: certificate [0-9a-f]+ was issued to this node at \S+ and is not in use yet; use it, or renew again from \S+$/,
    );
  });

  test("a fresh certificate cannot renew itself: no chain of renewals", async () => {
    const n = await enrollTestNode(hub, "renew-chain");
    await age(serialOf(n.certPem), 61);
    const next = await renew(n);
    await next.client.heartbeat({ bootId: "b1", agentVersion: "t" });
    const again = await refusal(next.client.renewCertificate({ csrPem: (await makeCsr(n.id)).csrPem }));
    expect(again.code).toBe("FailedPrecondition");
    expect(again.message).toStartWith("RenewCertificate: too early");
  });

  test("a successor never used (its answer lost) is replaced after a minute; still two live", async () => {
    const n = await enrollTestNode(hub, "renew-lost");
    const old = serialOf(n.certPem);
    await age(old, 61);
    const lost = await renew(n);
    // A minute later the node, still on the old certificate, asks again.
    await hub.deps.db
      .update(certificates)
      .set({ createdAt: new Date(Date.now() - RENEWAL_RETRY_MS - 1000) })
      .where(eq(certificates.serial, lost.serial));
    const next = await renew(n);
    expect(await liveSerials(n.id)).toEqual([old, next.serial].sort());
    expect(await refusal(lost.client.heartbeat({ bootId: "b1", agentVersion: "t" }))).toEqual({
      code: "Unauthenticated",
      message: "client certificate: certificate revoked",
    });
    await next.client.heartbeat({ bootId: "b1", agentVersion: "t" });
    expect(await liveSerials(n.id)).toEqual([next.serial]);
  });

  test("operator override: an unused bootstrap token allows one early renewal, which consumes it", async () => {
    const n = await enrollTestNode(hub, "renew-override");
    const issued = await operatorClient(hub, ProvisionService).issueBootstrapToken({ instanceId: n.id });
    const next = await renew(n);
    const events = await hub.deps.db
      .select({ kind: fleetEvents.kind, payload: fleetEvents.payload })
      .from(fleetEvents)
      .where(and(eq(fleetEvents.nodeId, n.id), eq(fleetEvents.kind, "system.certificate.renewed")));
    expect(events.map((e) => e.payload.early)).toEqual([true]);
    // The token is spent: Enroll with it is refused, and a second early renewal is too.
    const csr = await makeCsr(n.id);
    expect(
      await refusal(
        createClient(NodeService, nodeTransport(hub)).enroll({
          bootstrapToken: issued.bootstrapToken,
          csrPem: csr.csrPem,
          instanceUuid: n.id,
        }),
      ),
    ).toEqual({ code: "FailedPrecondition", message: "bootstrap_token: already used" });
    await next.client.heartbeat({ bootId: "b1", agentVersion: "t" });
    expect((await refusal(next.client.renewCertificate({ csrPem: csr.csrPem }))).message).toStartWith(
      "RenewCertificate: too early",
    );
  });

  test("the CSR must name the caller", async () => {
    const n = await enrollTestNode(hub, "renew-cn");
    await age(serialOf(n.certPem), 61);
    const other = await makeCsr("11111111-1111-1111-1111-111111111111");
    expect((await refusal(n.client.renewCertificate({ csrPem: other.csrPem }))).code).toBe("InvalidArgument");
  });
});

describe("Enroll and revocation", () => {
  test("enrolling again (a fresh token) keeps at most two live; the new certificate's first use retires the old", async () => {
    const n = await enrollTestNode(hub, "reenroll");
    const old = serialOf(n.certPem);
    const prov = operatorClient(hub, ProvisionService);
    const anon = createClient(NodeService, nodeTransport(hub));
    const enrollOnce = async () => {
      const csr = await makeCsr(n.id);
      const { bootstrapToken } = await prov.issueBootstrapToken({ instanceId: n.id });
      const res = await anon.enroll({ bootstrapToken, csrPem: csr.csrPem, instanceUuid: n.id });
      return { certPem: res.certificatePem, keyPem: csr.keyPem, serial: serialOf(res.certificatePem) };
    };
    const e1 = await enrollOnce();
    const e2 = await enrollOnce();
    // e1 was never used: e2 replaced it; the one in use stays until e2 is used.
    expect(await liveSerials(n.id)).toEqual([old, e2.serial].sort());
    await clientWith(e2).heartbeat({ bootId: "b2", agentVersion: "t" });
    expect(await liveSerials(n.id)).toEqual([e2.serial]);
    expect((await refusal(n.client.heartbeat({ bootId: "b1" }))).code).toBe("Unauthenticated");
    expect((await refusal(clientWith(e1).heartbeat({ bootId: "b1" }))).code).toBe("Unauthenticated");
  });

  test("an open WatchDesiredState stream ends once its certificate is revoked by another hub process", async () => {
    const n = await enrollTestNode(hub, "watch-revoked");
    const ac = new AbortController();
    const it = n.client
      .watchDesiredState({ knownVersion: 0n }, { signal: ac.signal })
      [Symbol.asyncIterator]();
    try {
      expect((await it.next()).value?.state?.version).toBe(0n);
      // Another process revokes it and announces it (what its cluster bus message does here: the entry
      // dropped, nothing more); the open stream notices at its next periodic re-check.
      await hub.deps.db
        .update(certificates)
        .set({ revokedAt: new Date() })
        .where(eq(certificates.serial, serialOf(n.certPem)));
      hub.deps.nodeIdentity.forget({ serial: serialOf(n.certPem) });
      const started = Date.now();
      const end = await waitFor(
        "the stream to end with the refusal",
        async () => {
          try {
            const r = await it.next();
            return r.done ? "done without an error" : undefined;
          } catch (e) {
            return `${Code[ConnectError.from(e).code]}: ${ConnectError.from(e).rawMessage}`;
          }
        },
        5_000,
      );
      expect(end).toBe("Unauthenticated: client certificate: certificate revoked");
      // Within one heartbeat interval (1 s) plus scheduling slack.
      expect(Date.now() - started).toBeLessThan(2_000);
    } finally {
      ac.abort();
    }
  });
});
