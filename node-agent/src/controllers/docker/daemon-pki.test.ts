import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { x509 } from "../../pki/x509.ts";
import {
  createDaemonKeyAndCsr,
  type DaemonPki,
  daemonPkiProblem,
  loadDaemonPki,
  removeDaemonPki,
  saveDaemonPki,
} from "./daemon-pki.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const day = 86_400_000;
const pki = (over: Partial<DaemonPki> = {}): DaemonPki => ({
  hostId: "h1",
  address: "fd00::1",
  keyPem: "k",
  certPem: "c",
  caPem: "ca",
  notBefore: new Date(0),
  notAfter: new Date(100 * day),
  ...over,
});

describe("daemon key and certificate", () => {
  test("the CSR names the daemon and the key is P-256", async () => {
    const { csrPem, keyPem } = await createDaemonKeyAndCsr("docker-daemon-abc");
    const csr = new x509.Pkcs10CertificateRequest(csrPem);
    expect(csr.subject).toBe("CN=docker-daemon-abc");
    expect(await csr.verify()).toBe(true);
    expect(keyPem).toContain("BEGIN PRIVATE KEY");
  });

  test("a certificate for another host or address, or past 75 % of its life, is replaced", () => {
    const want = { hostId: "h1", address: "fd00::1" };
    expect(daemonPkiProblem(undefined, want, new Date(day))).toBe("no daemon certificate yet");
    expect(daemonPkiProblem(pki(), want, new Date(day))).toBeUndefined();
    expect(daemonPkiProblem(pki({ hostId: "h2" }), want, new Date(day))).toContain("another Docker host");
    expect(daemonPkiProblem(pki({ address: "fd00::2" }), want, new Date(day))).toContain(
      "listens on fd00::1",
    );
    expect(daemonPkiProblem(pki(), want, new Date(76 * day))).toContain("renewal");
  });

  test("saved with the key 0600, loaded back, removed", async () => {
    const stateDir = mkdtempSync(join(tmpdir(), "daemon-pki-"));
    dirs.push(stateDir);
    const keys = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
      "sign",
      "verify",
    ])) as CryptoKeyPair;
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: "01",
      name: "CN=docker-daemon-x",
      notBefore: new Date(0),
      notAfter: new Date(100 * day),
      keys,
      signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
    });
    saveDaemonPki(stateDir, pki({ certPem: cert.toString("pem") }));
    expect(statSync(join(stateDir, "docker", "server-key.pem")).mode & 0o777).toBe(0o600);
    const back = loadDaemonPki(stateDir);
    expect(back?.hostId).toBe("h1");
    expect(back?.notAfter.getTime()).toBe(100 * day);
    expect(removeDaemonPki(stateDir)).toBe(true);
    expect(loadDaemonPki(stateDir)).toBeUndefined();
  });
});
