/**
 * Issue 14 item 4 (decision 0026): the operator listener over HTTPS. A hub with operatorTls answers
 * HTTPS with the internal CA's certificate (ca.pem in the data dir), over HTTP/1.1 and HTTP/2, with the
 * Connect API and OCI uploads; a plain-HTTP request gets no answer; when an ACME certificate for the
 * hub's name becomes active the listener presents it without a restart, and the internal one again when
 * it is revoked.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { EVENTS, FleetService } from "@powernode/proto";
import { eq } from "drizzle-orm";
import { bearer, peerCertificate, quietLog, waitFor } from "../test/harness.ts";
import { certKeyContext } from "./certs/certificates.ts";
import { acmeCertificates, acmeCertificateVersions, dnsProviders } from "./db/schema/acme.ts";
import { type RunningHub, startHub } from "./hub.ts";
import { pushBlob } from "./oci/index.ts";
import { caFile } from "./operator-listener.ts";

let hub: RunningHub;
beforeAll(async () => {
  hub = await startHub({
    operatorTls: true,
    listenHost: "127.0.0.1",
    hostnames: ["hub.powernode.test"],
    log: quietLog,
    providers: [],
  });
}, 30_000);
afterAll(() => hub.stop());

describe("the HTTPS operator listener", () => {
  test("https with the internal CA: ca.pem written, /healthz and Connect over HTTP/1.1 and HTTP/2", async () => {
    expect(hub.httpUrl).toStartWith("https://127.0.0.1:");
    expect(hub.operatorSource).toBe("internal-ca");
    expect(readFileSync(caFile(hub.deps.config.dataDir), "utf8")).toBe(hub.caPem);
    const health = await fetch(`${hub.httpUrl}/healthz`, { tls: { ca: hub.caPem } } as RequestInit);
    expect(health.status).toBe(200);
    await expect(fetch(`${hub.httpUrl}/healthz`)).rejects.toThrow(); // not trusted without the CA
    for (const httpVersion of ["1.1", "2"] as const) {
      const transport = createConnectTransport({
        baseUrl: hub.httpUrl,
        httpVersion,
        nodeOptions: { ca: hub.caPem },
        interceptors: [bearer(hub.adminToken)],
      });
      const nodes = await createClient(FleetService, transport).listNodes({});
      expect(nodes.nodes).toEqual([]);
    }
  });

  test("an OCI blob upload (a streamed request body) over TLS", async () => {
    const bytes = new Uint8Array(3 * 1024 * 1024).map((_, i) => i % 251);
    const tlsFetch = ((input: string | URL | Request, init?: RequestInit) =>
      fetch(input, { ...init, tls: { ca: hub.caPem } } as RequestInit)) as typeof fetch;
    const desc = await pushBlob(
      hub.httpUrl,
      "modules/tls-probe",
      { mediaType: "application/octet-stream", bytes },
      { token: hub.adminToken, fetch: tlsFetch, chunkBytes: 1024 * 1024 },
    );
    const back = await tlsFetch(`${hub.httpUrl}/v2/modules/tls-probe/blobs/${desc.digest}`, {
      headers: { authorization: `Bearer ${hub.adminToken}` },
    });
    expect(back.status).toBe(200);
    expect(new Uint8Array(await back.arrayBuffer())).toEqual(bytes);
  });

  test("plain HTTP to the port gets no answer and is counted", async () => {
    const plain = hub.httpUrl.replace("https://", "http://");
    await expect(fetch(`${plain}/healthz`)).rejects.toThrow();
    const metrics = await fetch(`${hub.httpUrl}/metrics`, {
      headers: { authorization: `Bearer ${hub.adminToken}` },
      tls: { ca: hub.caPem },
    } as RequestInit);
    expect(await metrics.text()).toMatch(/^powernode_operator_plain_http_refused_total(\{\})? [1-9]/m);
  });

  test("an active ACME certificate for the hub's name replaces the internal one; revoked, it goes back", async () => {
    const serialNow = async () =>
      (await peerCertificate(hub.httpUrl, hub.caPem, "hub.powernode.test")).serialNumber.toLowerCase();
    const internal = await serialNow();
    // A stand-in for an ACME-issued leaf (the smoke issues a real one from Pebble): a second
    // certificate from the hub's CA, stored as the ACME feature stores an issued version.
    const issued = await hub.deps.ca.issueServerCertificate(["hub.powernode.test", "127.0.0.1"]);
    const { db } = hub.deps;
    const [provider] = await db
      .insert(dnsProviders)
      .values({ name: "stand-in", type: "rfc2136", settings: {} })
      .returning();
    const [cert] = await db
      .insert(acmeCertificates)
      .values({
        name: "hub",
        domains: ["hub.powernode.test"],
        dnsProviderId: provider?.id ?? "",
        status: "valid",
      })
      .returning();
    const versionId = crypto.randomUUID();
    const now = new Date();
    await db.insert(acmeCertificateVersions).values({
      id: versionId,
      certificateId: cert?.id ?? "",
      state: "active",
      serial: "stand-in",
      certPem: issued.certPem,
      chainPem: "",
      keyPem: hub.deps.keys.seal(issued.keyPem, certKeyContext(versionId)),
      notBefore: now,
      notAfter: new Date(now.getTime() + 86_400_000),
    });
    await hub.deps.events.emit(EVENTS.acmeCertificateIssued, { name: "hub" });
    const stored = new X509Certificate(issued.certPem).serialNumber.toLowerCase();
    expect(stored).not.toBe(internal);
    await waitFor("the listener to present the ACME certificate", async () => {
      const got = await serialNow();
      return got === stored ? got : undefined;
    });

    await db.delete(acmeCertificates).where(eq(acmeCertificates.id, cert?.id ?? ""));
    await hub.deps.events.emit(EVENTS.acmeCertificateRevoked, { name: "hub" });
    await waitFor("the listener to present the internal certificate again", async () => {
      const got = await serialNow();
      return got === internal ? got : undefined;
    });
  });
});

describe("the plain-HTTP boot listener beside it", () => {
  test("serves /boot/ipxe pointing at itself, and nothing else: no API, no /healthz", async () => {
    const booted = await startHub({
      operatorTls: true,
      bootHttpPort: 0,
      listenHost: "127.0.0.1",
      nodeHost: "127.0.0.1",
      log: quietLog,
      providers: [],
    });
    try {
      const base = booted.nodeHttpUrl;
      expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(base).not.toBe(booted.httpUrl.replace("https:", "http:"));
      const script = await fetch(`${base}/boot/ipxe`);
      expect(script.status).toBe(200);
      expect(await script.text()).toContain(`${base}/boot/`);
      expect((await fetch(`${base}/healthz`)).status).toBe(404);
      const rpc = await fetch(`${base}/powernode.v1.FleetService/ListNodes`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${booted.adminToken}` },
        body: "{}",
      });
      expect(rpc.status).toBe(404);
    } finally {
      await booted.stop();
    }
  });
});
