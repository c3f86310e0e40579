/**
 * Bad input at the edge: malformed JSON and protobuf, unknown JSON fields, oversized messages, bad
 * tokens and foreign client certificates get a Connect error code naming the problem, never a 500.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { NodeService } from "@powernode/proto";
import { makeCsr, nodeTransport, startTestHub } from "../../test/harness.ts";
import { createCertificateAuthority } from "../ca/ca.ts";
import { parseCsr } from "../ca/csr.ts";
import type { RunningHub } from "../hub.ts";

let hub: RunningHub;
beforeAll(async () => {
  hub = await startTestHub();
}, 30_000);
afterAll(async () => {
  await hub.stop();
});

async function post(
  path: string,
  body: string | Uint8Array,
  headers: Record<string, string> = {},
  base = hub.httpUrl,
) {
  const res = await fetch(`${base}/${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${hub.adminToken}`, ...headers },
    body,
    tls: { ca: hub.caPem },
  });
  const text = await res.text();
  let json: { code?: string; message?: string } = {};
  try {
    json = JSON.parse(text);
  } catch {
    json = { message: text };
  }
  return { status: res.status, ...json };
}

describe("bad input on the Connect listener", () => {
  test("malformed JSON is invalid_argument (400)", async () => {
    const r = await post("powernode.v1.FleetService/ListNodes", "{not json");
    expect(r.status).toBe(400);
    expect(r.code).toBe("invalid_argument");
  });

  test("unknown JSON fields are rejected and named", async () => {
    const r = await post(
      "powernode.v1.FleetService/ListNodes",
      JSON.stringify({ pageSize: 1, bogusField: 2 }),
    );
    expect(r.status).toBe(400);
    expect(r.code).toBe("invalid_argument");
    expect(r.message).toContain("bogusField");
  });

  test("a wrong field type is invalid_argument naming the field", async () => {
    const r = await post("powernode.v1.FleetService/ListNodes", JSON.stringify({ pageSize: "many" }));
    expect(r.code).toBe("invalid_argument");
    expect(r.message).toContain("page_size");
  });

  test("malformed protobuf is invalid_argument", async () => {
    const r = await post(
      "powernode.v1.FleetService/ListNodes",
      new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]),
      {
        "content-type": "application/proto",
      },
    );
    expect(r.status).toBe(400);
    expect(r.code).toBe("invalid_argument");
  });

  test("a message over 4 MiB is resource_exhausted", async () => {
    const big = JSON.stringify({ kindPrefix: "x".repeat(5 * 1024 * 1024) });
    const r = await post("powernode.v1.FleetService/ListEvents", big);
    expect(r.code).toBe("resource_exhausted");
  });

  test("an unknown method is 404, not 500", async () => {
    const r = await post("powernode.v1.FleetService/Nope", "{}");
    expect(r.status).toBe(404);
  });

  test("bad bearer tokens are unauthenticated", async () => {
    for (const auth of ["", "Bearer", "Bearer short", "Basic abc", `Bearer ${"x".repeat(600)}`]) {
      const r = await post("powernode.v1.FleetService/ListNodes", "{}", { authorization: auth });
      expect(r.code).toBe("unauthenticated");
    }
  });

  test("Enroll with a huge token or junk fields answers a code, never a crash", async () => {
    // Enroll is served on the TLS listener only (the HTTP one refuses it before looking at the fields).
    const r = await post(
      "powernode.v1.NodeService/Enroll",
      JSON.stringify({
        bootstrapToken: "y".repeat(10_000),
        csrPem: "x",
        instanceUuid: "00000000-0000-4000-8000-000000000000",
      }),
      {},
      hub.mtlsUrl,
    );
    expect(r.code).toBe("invalid_argument");
    const health = await fetch(`${hub.httpUrl}/healthz`);
    expect(health.status).toBe(200);
  });
});

describe("foreign client certificates on the mTLS listener", () => {
  test("a certificate from another CA is refused as unauthenticated", async () => {
    // A second CA, made the same way, signs a certificate for a plausible instance id.
    const { default: forge } = await import("node-forge");
    const keys = forge.pki.rsa.generateKeyPair({ bits: 2048 });
    const cert = forge.pki.createCertificate();
    cert.publicKey = keys.publicKey;
    cert.serialNumber = "01";
    cert.validity.notBefore = new Date(Date.now() - 60_000);
    cert.validity.notAfter = new Date(Date.now() + 86_400_000);
    cert.setSubject([{ name: "commonName", value: "rogue" }]);
    cert.setIssuer([{ name: "commonName", value: "rogue" }]);
    cert.setExtensions([{ name: "basicConstraints", cA: true }]);
    cert.sign(keys.privateKey, forge.md.sha256.create());
    const rogue = await createCertificateAuthority({
      keyPem: forge.pki.privateKeyToPem(keys.privateKey),
      certPem: forge.pki.certificateToPem(cert),
    });
    const id = "00000000-0000-4000-8000-000000000001";
    const csr = await makeCsr(id);
    const parsed = await parseCsr(csr.csrPem, id);
    if (!parsed.ok) throw new Error(parsed.error);
    const issued = await rogue.issueNodeCertificate(parsed.value, id);
    const client = createClient(NodeService, nodeTransport(hub, { certPem: issued.pem, keyPem: csr.keyPem }));
    const err = await client.heartbeat({ bootId: "b" }).catch((e) => ConnectError.from(e));
    expect((err as ConnectError).code).toBe(Code.Unauthenticated);
    expect((err as ConnectError).rawMessage).toStartWith(
      "client certificate: does not verify against the hub CA",
    );
  });
});
