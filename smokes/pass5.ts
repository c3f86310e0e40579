/**
 * Pass 5: ACME certificates (DNS-01) against a real Pebble.
 *
 *   bun smokes/pass5.ts --tier db
 *
 * db: Pebble + challtestsrv on loopback (Debian's pebble package) and a real hub: preflight all ok;
 *     issue hub.example.test + *.nodes.example.test -> the chain verifies against Pebble's root
 *     (/roots/0, openssl verify), the key is sealed and matches; renew -> a new serial, the old one
 *     kept (RETIRING, files in place) until the switch-over grace ends, then gone; revoke -> Pebble's
 *     management API says Revoked, files and rows gone; a DNS failure -> a failed event naming the
 *     step, no version and no files, a retry after a longer backoff; the cloudflare, hetzner and
 *     digitalocean solvers issue through their local fakes (mirrored into challtestsrv). Then a second
 *     Pebble resolving through a real bind9 (named) started here: the rfc2136 solver issues with a
 *     TSIG-signed update; a wrong TSIG secret fails preflight and the order with BADSIG. Between them,
 *     the operator listener over HTTPS with pnctl, buf curl and curl (pass5/operator-tls.ts).
 *     Higher tiers run the same checks (nothing here needs a VM).
 */
import { createPrivateKey, createPublicKey, X509Certificate } from "node:crypto";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CertificateStatus, CertificateVersionState, type ManagedCertificate } from "@powernode/proto";
import { eq } from "drizzle-orm";
import { isSealed } from "../hub/src/ca/key-at-rest.ts";
import { runRenewalPass } from "../hub/src/certs/index.ts";
import { type FakeDnsKind, startFakeDnsProvider } from "../hub/src/certs/solvers/fake-dns-providers.ts";
import { acmeCertificates, acmeCertificateVersions } from "../hub/src/db/schema/index.ts";
import { startBind } from "../scripts/lib/bind.ts";
import { run } from "../scripts/lib/exec.ts";
import { type Pebble, startPebble } from "../scripts/lib/pebble.ts";
import { type SmokeHub, startSmokeHub } from "./lib/hub.ts";
import { definePass, type PassContext, runPass } from "./lib/pass.ts";
import { operatorTlsChecks } from "./pass5/operator-tls.ts";

const EMAIL = "smoke@example.test";
const DOMAINS = ["hub.example.test", "*.nodes.example.test"];

/** `openssl verify` of the leaf with the chain as untrusted and Pebble's root as the only anchor. */
async function verifyChain(dir: string, pebble: Pebble, certPem: string, chainPem: string): Promise<string> {
  const root = join(dir, `root-${Date.now()}.pem`);
  const chain = join(dir, `chain-${Date.now()}.pem`);
  const leaf = join(dir, `leaf-${Date.now()}.pem`);
  writeFileSync(root, await pebble.root());
  writeFileSync(chain, chainPem);
  writeFileSync(leaf, certPem);
  const r = await run("openssl", ["verify", "-CAfile", root, "-untrusted", chain, leaf]);
  return r.stdout.trim();
}

function sans(certPem: string): string[] {
  return (new X509Certificate(certPem).subjectAltName ?? "")
    .split(", ")
    .map((s) => s.replace(/^DNS:/, ""))
    .sort();
}

async function eventsOf(s: SmokeHub, kind: string) {
  return (await s.fleet.listEvents({ kindPrefix: kind, limit: 100 })).events.filter((e) => e.kind === kind);
}

async function challtestsrvChecks(t: PassContext, pebble: Pebble, serverCaPem: string): Promise<void> {
  const s = await startSmokeHub(t, {
    acme: { directoryUrl: pebble.directoryUrl, email: EMAIL, serverCaPem, retireSeconds: 3600 },
  });
  const certs = s.certs;
  const deps = s.hub.deps;
  await t.step("dns provider challtestsrv", () =>
    certs.createDnsProvider({
      name: "challtestsrv",
      type: "challtestsrv",
      settings: { url: pebble.challtestsrvUrl ?? "" },
    }),
  );

  await t.check("preflight: every check ok", async () => {
    const r = await certs.preflight({});
    for (const c of r.checks) t.info(`${c.ok ? "ok  " : "FAIL"} ${c.name}: ${c.detail}`);
    const names = r.checks.map((c) => c.name).join(", ");
    const want = ["renewal job", "storage", "account", "dns provider challtestsrv"];
    if (want.some((w) => !r.checks.some((c) => c.name === w)))
      throw new Error(`checks ${names}, want ${want}`);
    if (!r.ok || r.checks.some((c) => !c.ok)) throw new Error(`not all ok: ${names}`);
    if ((await eventsOf(s, "system.acme.preflight_passed")).length !== 1)
      throw new Error("no preflight_passed event");
    return names;
  });

  let issued: ManagedCertificate | undefined;
  await t.check(
    "issue hub.example.test + *.nodes.example.test: valid, chain verifies against Pebble's root",
    async () => {
      issued = (await certs.issueCertificate({ domains: DOMAINS, dnsProvider: "challtestsrv", name: "hub" }))
        .certificate;
      if (issued?.status !== CertificateStatus.VALID) throw new Error(`status ${issued?.status}`);
      const got = await certs.getCertificate({ certificate: "hub" });
      const names = sans(got.certificatePem);
      if (JSON.stringify(names) !== JSON.stringify([...DOMAINS].sort())) throw new Error(`SANs ${names}`);
      const verdict = await verifyChain(t.outDir, pebble, got.certificatePem, got.chainPem);
      for (const f of ["cert.pem", "chain.pem", "fullchain.pem"])
        if (!existsSync(join(issued.active?.dir ?? "/nonexistent", f))) throw new Error(`${f} missing`);
      return `serial ${issued.active?.serial}, ${verdict}, renew after ${issued.renewAfter ? new Date(Number(issued.renewAfter.seconds) * 1000).toISOString() : "?"} (${issued.renewAfterSource})`;
    },
  );
  if (!issued?.active) return;
  const first = issued.active;

  await t.check("the key is sealed in the database and matches the certificate", async () => {
    const [v] = await deps.db
      .select()
      .from(acmeCertificateVersions)
      .where(eq(acmeCertificateVersions.serial, first.serial));
    if (!v || !isSealed(v.keyPem)) throw new Error("key_pem is not sealed text");
    const key = createPrivateKey(deps.keys.open(v.keyPem, `acme-cert:${v.id}`));
    const certKey = new X509Certificate(v.certPem).publicKey.export({ format: "der", type: "spki" });
    const fromKey = createPublicKey(key).export({ format: "der", type: "spki" });
    if (!certKey.equals(fromKey)) throw new Error("the sealed key is not the certificate's");
    return `${key.asymmetricKeyType} ${key.asymmetricKeyDetails?.namedCurve}`;
  });

  let renewed: ManagedCertificate | undefined;
  await t.check(
    "renew -> a new serial; the old one kept (retiring, files in place) until switch-over",
    async () => {
      const r = await certs.renewManagedCertificate({ certificate: "hub" });
      renewed = r.certificate;
      const next = renewed?.active;
      if (!next || next.serial === first.serial)
        throw new Error(`serial ${next?.serial} (was ${first.serial})`);
      if (r.previousSerial !== first.serial) throw new Error(`previous_serial ${r.previousSerial}`);
      const old = renewed?.versions.find((v) => v.serial === first.serial);
      if (old?.state !== CertificateVersionState.RETIRING) throw new Error(`old version state ${old?.state}`);
      if (!existsSync(join(first.dir, "cert.pem"))) throw new Error("the old version's files are gone");
      const ev = await eventsOf(s, "system.acme.certificate.renewed");
      if (ev.length !== 1) throw new Error(`${ev.length} renewed events`);
      return `${first.serial} -> ${next.serial}; ${first.serial} retiring`;
    },
  );

  await t.check(
    "switch-over grace over -> the old version and its files are gone, the new one stays",
    async () => {
      const retireAt = renewed?.versions.find((v) => v.serial === first.serial)?.retireAt;
      if (!retireAt) throw new Error("no retire_at");
      const r = await runRenewalPass(
        deps,
        new AbortController().signal,
        new Date(Number(retireAt.seconds) * 1000 + 1000),
      );
      if (!r.retired.includes(first.serial)) throw new Error(`retired ${r.retired}`);
      const got = (await certs.getCertificate({ certificate: "hub" })).certificate;
      if (got?.versions.length !== 1 || got.active?.serial !== renewed?.active?.serial)
        throw new Error(`versions ${got?.versions.map((v) => v.serial)}`);
      if (existsSync(first.dir)) throw new Error(`${first.dir} still exists`);
      return `retired ${first.serial}`;
    },
  );

  await t.check("revoke -> Pebble reports it revoked; files and rows gone", async () => {
    const active = renewed?.active;
    if (!active) throw new Error("no active version");
    const r = await certs.revokeCertificate({ certificate: "hub", reason: 4 });
    const status = await pebble.certStatus(active.serial);
    if (status !== "Revoked") throw new Error(`Pebble says ${status}`);
    const rows = await deps.db.select().from(acmeCertificates).where(eq(acmeCertificates.name, "hub"));
    const versions = await deps.db.select().from(acmeCertificateVersions);
    if (rows.length || versions.length)
      throw new Error(`${rows.length} certificate rows, ${versions.length} versions left`);
    if (existsSync(active.dir)) throw new Error(`${active.dir} still exists`);
    if ((await eventsOf(s, "system.acme.certificate.revoked")).length !== 1)
      throw new Error("no revoked event");
    return `serials ${r.revokedSerials.join(", ")}: Pebble ${status}`;
  });

  await t.check(
    "DNS failure -> failed event naming the step, nothing half-written, retry after a longer backoff",
    async () => {
      await certs.createDnsProvider({
        name: "dead-dns",
        type: "challtestsrv",
        settings: { url: "http://127.0.0.1:9" },
      });
      const err = await certs
        .issueCertificate({ domains: ["broken.example.test"], dnsProvider: "dead-dns" })
        .then(
          () => undefined,
          (e: Error) => e,
        );
      if (!err || !/dns-record/.test(err.message)) throw new Error(`issue answered ${err?.message ?? "ok"}`);
      const [ev] = await eventsOf(s, "system.acme.certificate.failed");
      if (ev?.payload?.step !== "dns-record") throw new Error(`failed event step ${ev?.payload?.step}`);
      const [row] = await deps.db
        .select()
        .from(acmeCertificates)
        .where(eq(acmeCertificates.name, "broken.example.test"));
      if (row?.status !== "failed" || row.failures !== 1 || !row.nextAttemptAt)
        throw new Error(`row ${JSON.stringify(row)}`);
      const versions = await deps.db
        .select()
        .from(acmeCertificateVersions)
        .where(eq(acmeCertificateVersions.certificateId, row.id));
      if (versions.length || existsSync(join(deps.config.dataDir, "certs", row.name)))
        throw new Error("a version or files of the failed order exist");
      const delay1 = row.nextAttemptAt.getTime() - row.updatedAt.getTime();
      const early = await runRenewalPass(
        deps,
        new AbortController().signal,
        new Date(row.nextAttemptAt.getTime() - 1000),
      );
      if (early.failed.length) throw new Error("retried before its backoff was over");
      const at = new Date(row.nextAttemptAt.getTime() + 1000);
      const retry = await runRenewalPass(deps, new AbortController().signal, at);
      const [row2] = await deps.db.select().from(acmeCertificates).where(eq(acmeCertificates.id, row.id));
      if (!retry.failed.includes(row.name) || row2?.failures !== 2 || !row2.nextAttemptAt)
        throw new Error(`after the retry: ${JSON.stringify(row2)}`);
      const delay2 = row2.nextAttemptAt.getTime() - row2.updatedAt.getTime();
      if (!(delay2 > delay1)) throw new Error(`backoff ${delay1} ms then ${delay2} ms: not growing`);
      const events = await eventsOf(s, "system.acme.certificate.failed");
      return `step ${ev.payload.step}; ${events.length} failed events; backoff ${Math.round(delay1 / 1000)} s -> ${Math.round(delay2 / 1000)} s`;
    },
  );

  for (const kind of ["cloudflare", "hetzner", "digitalocean"] as FakeDnsKind[]) {
    await t.check(
      `${kind} solver issues through fake-${kind} (records mirrored to challtestsrv)`,
      async () => {
        const url = pebble.challtestsrvUrl ?? "";
        const fake = startFakeDnsProvider({
          kind,
          zone: "example.test",
          token: `token-${kind}`,
          onChange: async (fqdn, values) => {
            await fetch(`${url}/clear-txt`, { method: "POST", body: JSON.stringify({ host: `${fqdn}.` }) });
            for (const value of values)
              await fetch(`${url}/set-txt`, {
                method: "POST",
                body: JSON.stringify({ host: `${fqdn}.`, value }),
              });
          },
        });
        t.defer(() => fake.stop());
        await certs.createDnsProvider({
          name: `fake-${kind}`,
          type: kind,
          settings: { zone: "example.test", api_url: fake.url },
          secret: fake.token,
        });
        const c = (
          await certs.issueCertificate({ domains: [`${kind}.example.test`], dnsProvider: `fake-${kind}` })
        ).certificate;
        if (c?.status !== CertificateStatus.VALID) throw new Error(`status ${c?.status}`);
        if (fake.records().length !== 0) throw new Error(`${fake.records().length} records left at the fake`);
        const creates = fake.calls.filter((x) => x.startsWith("POST")).length;
        return `serial ${c.active?.serial}; ${fake.calls.length} API calls (${creates} create), records removed`;
      },
    );
  }
}

async function rfc2136Checks(t: PassContext, otherListenerCaPem: string): Promise<void> {
  const dns = await t.step("bind9 (named) on loopback with a TSIG key for example.test", () =>
    startBind({ dir: join(t.outDir, "bind"), zone: "example.test" }),
  );
  t.defer(() => dns.stop());
  t.keepOnFailure("named log", dns.logFile);
  const pebble = await t.step("a second Pebble resolving through named", () =>
    startPebble({ dir: join(t.outDir, "pebble-bind"), dnsServer: dns.server }),
  );
  t.defer(() => pebble.stop());
  t.keepOnFailure("pebble (bind) log", pebble.logFile);
  const s = await startSmokeHub(t, {
    acme: {
      directoryUrl: pebble.directoryUrl,
      email: EMAIL,
      serverCaPem: otherListenerCaPem + pebble.listenerCaPem,
      retireSeconds: 3600,
    },
  });
  const certs = s.certs;
  const settings = { server: dns.server, zone: dns.zone, key_name: dns.keyName, algorithm: dns.algorithm };
  await certs.createDnsProvider({ name: "bind", type: "rfc2136", settings, secret: dns.secret });

  await t.check(
    "rfc2136: preflight ok, a TSIG-signed update issues a certificate named serves the challenge of",
    async () => {
      const pre = await certs.preflight({});
      const check = pre.checks.find((c) => c.name === "dns provider bind");
      if (!pre.ok || !check?.ok) throw new Error(`preflight: ${JSON.stringify(pre.checks)}`);
      const c = (await certs.issueCertificate({ domains: DOMAINS, dnsProvider: "bind", name: "hub-bind" }))
        .certificate;
      if (c?.status !== CertificateStatus.VALID) throw new Error(`status ${c?.status}`);
      const got = await certs.getCertificate({ certificate: "hub-bind" });
      const verdict = await verifyChain(t.outDir, pebble, got.certificatePem, got.chainPem);
      return `serial ${c.active?.serial}; ${verdict}; ${check.detail}`;
    },
  );

  await t.check(
    "rfc2136 with a wrong TSIG secret: preflight FAIL and the order fails with BADSIG",
    async () => {
      const wrong = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64");
      await certs.createDnsProvider({ name: "bind-wrong-key", type: "rfc2136", settings, secret: wrong });
      const pre = await certs.preflight({});
      const check = pre.checks.find((c) => c.name === "dns provider bind-wrong-key");
      if (pre.ok || check?.ok !== false || !/BADSIG/.test(check.detail))
        throw new Error(`preflight: ${JSON.stringify(check)}`);
      const err = await certs
        .issueCertificate({ domains: ["wrong.example.test"], dnsProvider: "bind-wrong-key" })
        .then(
          () => undefined,
          (e: Error) => e,
        );
      if (!err || !/dns-record: .*BADSIG/.test(err.message))
        throw new Error(`issue answered ${err?.message ?? "ok"}`);
      return err.message.replace(/^\[\w+\] /, "").slice(0, 160);
    },
  );
}

export const pass5 = definePass({
  id: 5,
  title: "ACME certificates (DNS-01) against Pebble, rfc2136 against bind9",
  minTier: "db",
  async run(t) {
    const pebble = await t.step("Pebble + challtestsrv on loopback", () =>
      startPebble({ dir: join(t.outDir, "pebble") }),
    );
    t.defer(() => pebble.stop());
    t.keepOnFailure("pebble log", pebble.logFile);
    await challtestsrvChecks(t, pebble, pebble.listenerCaPem);
    await operatorTlsChecks(t, pebble, pebble.listenerCaPem);
    // The second hub trusts both Pebbles' listeners: acme-client's HTTP client is process-wide.
    await rfc2136Checks(t, pebble.listenerCaPem);
  },
});

if (import.meta.main) await runPass(pass5);
