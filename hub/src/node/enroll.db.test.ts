import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { Arch, NodeService, ProvisionService } from "@powernode/proto";
import { run } from "../../../scripts/lib/exec.ts";
import { makeCsr, nodeTransport, operatorClient, startTestHub } from "../../test/harness.ts";
import { bootstrapTokens } from "../db/schema/index.ts";
import type { RunningHub } from "../hub.ts";
import { revokeCertificate } from "./enroll.ts";

let hub: RunningHub;
let dir: string;

beforeAll(async () => {
  hub = await startTestHub();
  dir = mkdtempSync(join(tmpdir(), "pn-enroll-"));
}, 30_000);
afterAll(async () => {
  await hub.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function newInstance(name: string) {
  const prov = operatorClient(hub, ProvisionService);
  const res = await prov.createInstance({ name, arch: Arch.AMD64, provider: "none" });
  const id = res.instance?.id ?? "";
  return { id, token: res.bootstrapToken };
}

async function codeOf(p: Promise<unknown>): Promise<{ code: Code; message: string }> {
  try {
    await p;
  } catch (e) {
    const ce = ConnectError.from(e);
    return { code: ce.code, message: ce.rawMessage };
  }
  throw new Error("expected the call to fail");
}

describe("Enroll", () => {
  test("valid token + EC P-256 CSR -> a client certificate openssl verifies against the CA", async () => {
    const { id, token } = await newInstance("enroll-ok");
    const csr = await makeCsr(id, "ec");
    const node = createClient(NodeService, nodeTransport(hub));
    const res = await node.enroll({
      bootstrapToken: token,
      csrPem: csr.csrPem,
      instanceUuid: id,
      agentVersion: "t",
    });
    expect(res.instanceUuid).toBe(id);
    expect(res.caChainPem).toBe(hub.caPem);
    writeFileSync(join(dir, "ca.pem"), hub.caPem);
    writeFileSync(join(dir, "node.pem"), res.certificatePem);
    const v = await run(
      "openssl",
      ["verify", "-purpose", "sslclient", "-CAfile", join(dir, "ca.pem"), join(dir, "node.pem")],
      {
        timeoutMs: 10_000,
      },
    );
    expect(v.stdout.trim()).toBe(`${join(dir, "node.pem")}: OK`);
    const subj = await run("openssl", ["x509", "-noout", "-subject", "-in", join(dir, "node.pem")], {
      timeoutMs: 10_000,
    });
    expect(subj.stdout.trim().replace(/ /g, "")).toBe(`subject=CN=${id}`);
    // The token is recorded as consumed, with the caller's address.
    const [row] = await hub.deps.db.select().from(bootstrapTokens);
    expect(row?.consumedAt).toBeInstanceOf(Date);
    expect(row?.consumedByIp).toContain("127.0.0.1");
  }, 20_000);

  test("an RSA CSR is accepted too", async () => {
    const { id, token } = await newInstance("enroll-rsa");
    const csr = await makeCsr(id, "rsa");
    const node = createClient(NodeService, nodeTransport(hub));
    const res = await node.enroll({ bootstrapToken: token, csrPem: csr.csrPem, instanceUuid: id });
    expect(res.certificatePem).toContain("BEGIN CERTIFICATE");
  });

  test("reused, expired, foreign and unknown tokens are rejected with distinct codes", async () => {
    const a = await newInstance("enroll-a");
    const b = await newInstance("enroll-b");
    const node = createClient(NodeService, nodeTransport(hub));
    const csrA = await makeCsr(a.id);
    await node.enroll({ bootstrapToken: a.token, csrPem: csrA.csrPem, instanceUuid: a.id });

    const reused = await codeOf(
      node.enroll({ bootstrapToken: a.token, csrPem: csrA.csrPem, instanceUuid: a.id }),
    );
    expect(reused).toEqual({ code: Code.FailedPrecondition, message: "bootstrap_token: already used" });

    const csrB = await makeCsr(b.id);
    const foreign = await codeOf(
      node.enroll({ bootstrapToken: a.token, csrPem: csrB.csrPem, instanceUuid: b.id }),
    );
    expect(foreign).toEqual({
      code: Code.PermissionDenied,
      message: "bootstrap_token: not issued for this instance_uuid",
    });

    const unknown = await codeOf(
      node.enroll({ bootstrapToken: "pnb_nope", csrPem: csrB.csrPem, instanceUuid: b.id }),
    );
    expect(unknown).toEqual({ code: Code.Unauthenticated, message: "bootstrap_token: unknown" });

    // Backdate b's token past its hour.
    await hub.deps.db.update(bootstrapTokens).set({ expiresAt: new Date(Date.now() - 1000) });
    const expired = await codeOf(
      node.enroll({ bootstrapToken: b.token, csrPem: csrB.csrPem, instanceUuid: b.id }),
    );
    expect(expired).toEqual({ code: Code.Unauthenticated, message: "bootstrap_token: expired" });
    // Reused, foreign and expired differ in code; unknown and expired share a code, not a message.
    expect(new Set([reused.code, foreign.code, expired.code]).size).toBe(3);
  });

  test("a newer token supersedes an unused older one", async () => {
    const a = await newInstance("enroll-super");
    const prov = operatorClient(hub, ProvisionService);
    const fresh = await prov.issueBootstrapToken({ instanceId: a.id });
    const node = createClient(NodeService, nodeTransport(hub));
    const csr = await makeCsr(a.id);
    const old = await codeOf(
      node.enroll({ bootstrapToken: a.token, csrPem: csr.csrPem, instanceUuid: a.id }),
    );
    expect(old).toEqual({
      code: Code.FailedPrecondition,
      message: "bootstrap_token: superseded by a newer token",
    });
    const res = await node.enroll({
      bootstrapToken: fresh.bootstrapToken,
      csrPem: csr.csrPem,
      instanceUuid: a.id,
    });
    expect(res.instanceUuid).toBe(a.id);
  });

  test("two concurrent Enroll calls with one token: exactly one succeeds", async () => {
    const a = await newInstance("enroll-race");
    const csr1 = await makeCsr(a.id);
    const csr2 = await makeCsr(a.id);
    const n1 = createClient(NodeService, nodeTransport(hub));
    const n2 = createClient(NodeService, nodeTransport(hub));
    const results = await Promise.allSettled([
      n1.enroll({ bootstrapToken: a.token, csrPem: csr1.csrPem, instanceUuid: a.id }),
      n2.enroll({ bootstrapToken: a.token, csrPem: csr2.csrPem, instanceUuid: a.id }),
    ]);
    const ok = results.filter((r) => r.status === "fulfilled");
    const failed = results.filter((r) => r.status === "rejected");
    expect(ok).toHaveLength(1);
    expect(failed).toHaveLength(1);
    const err = ConnectError.from((failed[0] as PromiseRejectedResult).reason);
    expect(err.code).toBe(Code.FailedPrecondition);
  });

  test("bad CSRs are InvalidArgument naming csr_pem, and do not burn the token", async () => {
    const a = await newInstance("enroll-badcsr");
    const node = createClient(NodeService, nodeTransport(hub));
    const cases: [string, string][] = [
      ["", "csr_pem: required"],
      ["garbage", 'csr_pem: not a PEM "CERTIFICATE REQUEST"'],
      [
        "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
        "csr_pem: not a parseable PKCS#10 request",
      ],
      [
        (await makeCsr("00000000-0000-0000-0000-000000000000")).csrPem,
        'csr_pem: subject CN "00000000-0000-0000-0000-000000000000" is not the instance UUID',
      ],
      [
        (await makeCsr(a.id, "ec384")).csrPem,
        "csr_pem: key type ECDSA P-384 not accepted (use EC P-256 or RSA >= 2048)",
      ],
      [
        (await makeCsr(a.id, "ed25519")).csrPem,
        "csr_pem: key type Ed25519 not accepted (use EC P-256 or RSA >= 2048)",
      ],
    ];
    // A CSR whose signature no longer matches: flip a byte inside the signature.
    const good = (await makeCsr(a.id)).csrPem;
    const der = Buffer.from(good.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""), "base64");
    der[der.length - 5] = (der[der.length - 5] ?? 0) ^ 0xff;
    cases.push([
      `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString("base64")}\n-----END CERTIFICATE REQUEST-----\n`,
      "csr_pem: signature does not verify",
    ]);
    for (const [csrPem, message] of cases) {
      expect(await codeOf(node.enroll({ bootstrapToken: a.token, csrPem, instanceUuid: a.id }))).toEqual({
        code: Code.InvalidArgument,
        message,
      });
    }
    const badId = await codeOf(
      node.enroll({ bootstrapToken: a.token, csrPem: good, instanceUuid: "not-a-uuid" }),
    );
    expect(badId).toEqual({ code: Code.InvalidArgument, message: "instance_uuid: not a UUID" });
    // After all that, the token still works.
    const res = await node.enroll({ bootstrapToken: a.token, csrPem: good, instanceUuid: a.id });
    expect(res.instanceUuid).toBe(a.id);
  });
});

describe("mTLS identity", () => {
  test("Heartbeat needs a client certificate; a revoked one is refused from the next call on", async () => {
    const a = await newInstance("hb-revoke");
    const csr = await makeCsr(a.id);
    const anon = createClient(NodeService, nodeTransport(hub));
    const enrolled = await anon.enroll({ bootstrapToken: a.token, csrPem: csr.csrPem, instanceUuid: a.id });

    const noCert = await codeOf(anon.heartbeat({ bootId: "b1" }));
    expect(noCert).toEqual({ code: Code.Unauthenticated, message: "client certificate: required" });

    const node = createClient(
      NodeService,
      nodeTransport(hub, { certPem: enrolled.certificatePem, keyPem: csr.keyPem }),
    );
    const hb = await node.heartbeat({ bootId: "b1", agentVersion: "t" });
    expect(hb.nextHeartbeatSeconds).toBe(10);

    const cert = new X509Certificate(enrolled.certificatePem);
    await revokeCertificate(hub.deps, cert.serialNumber.toLowerCase().replace(/^0+/, ""), "test");
    const after = await codeOf(node.heartbeat({ bootId: "b1" }));
    expect(after).toEqual({ code: Code.Unauthenticated, message: "client certificate: certificate revoked" });
  });

  test("Enroll over plain HTTP is refused, saying where to enroll; the token stays good for TLS", async () => {
    const a = await newInstance("enroll-plain-http");
    const csr = await makeCsr(a.id);
    const { createConnectTransport } = await import("@connectrpc/connect-node");
    for (const useBinaryFormat of [false, true]) {
      const plain = createClient(
        NodeService,
        createConnectTransport({ baseUrl: hub.httpUrl, httpVersion: "1.1", useBinaryFormat }),
      );
      expect(
        await codeOf(plain.enroll({ bootstrapToken: a.token, csrPem: csr.csrPem, instanceUuid: a.id })),
      ).toEqual({
        code: Code.FailedPrecondition,
        message: `Enroll is served only on the TLS listener ${hub.nodeUrl} (this plain-HTTP listener would carry the bootstrap token in clear)`,
      });
    }
    const res = await createClient(NodeService, nodeTransport(hub)).enroll({
      bootstrapToken: a.token,
      csrPem: csr.csrPem,
      instanceUuid: a.id,
    });
    expect(res.instanceUuid).toBe(a.id);
  });

  test("NodeService on the plain HTTP listener is refused", async () => {
    const { createConnectTransport } = await import("@connectrpc/connect-node");
    const c = createClient(NodeService, createConnectTransport({ baseUrl: hub.httpUrl, httpVersion: "1.1" }));
    expect((await codeOf(c.heartbeat({ bootId: "x" }))).code).toBe(Code.Unauthenticated);
  });
});
