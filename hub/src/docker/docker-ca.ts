/**
 * The Docker CA: an intermediate under the hub's root (row `docker` of the `ca` table, EC P-256 key
 * sealed with context `ca:docker`) that signs every managed daemon's server certificate and every
 * Docker client certificate, and nothing else. Daemons trust only this intermediate for clients, so a
 * node certificate (signed by the root) opens no daemon, and a Docker client certificate is no node
 * certificate at the hub (the node listener accepts only serials it issued to nodes).
 */
import "reflect-metadata";
import { isIP } from "node:net";
import * as x509 from "@peculiar/x509";
import { eq } from "drizzle-orm";
import { type CertificateAuthority, type IssuedCertificate, NODE_CERT_DAYS } from "../ca/index.ts";
import { BACKDATE_MS, createSigner, DAY_MS, toPem } from "../ca/signer.ts";
import type { Core } from "../core.ts";
import { ca as caTable } from "../db/schema/index.ts";

export const DOCKER_CA_ID = "docker";
const CONTEXT = `ca:${DOCKER_CA_ID}`;
const EC = { name: "ECDSA", namedCurve: "P-256" } as const;
const SIGNING_ALG = { name: "ECDSA", hash: "SHA-256" } as const;
/** The intermediate lives 5 years; leaves 90 days, like node certificates. */
const CA_DAYS = 5 * 365;
export const DOCKER_CERT_DAYS = NODE_CERT_DAYS;

/** What a leaf is for. */
export type DockerLeaf =
  | { kind: "server"; commonName: string; address: string; publicKey: x509.PublicKeyType }
  | { kind: "client"; commonName: string; publicKey: x509.PublicKeyType };

export interface DockerCa {
  /** The intermediate's certificate: `ca.pem` of daemons and clients. */
  readonly certPem: string;
  issue(leaf: DockerLeaf, now?: Date): Promise<IssuedCertificate>;
  /** A fresh P-256 key and a client certificate for it (the hub's own client identity). */
  issueClientWithKey(commonName: string): Promise<IssuedCertificate & { keyPem: string }>;
}

type CaDeps = Pick<Core, "db" | "ca" | "keys">;

/** One per hub, keyed by its root CA object. */
const loaded = new WeakMap<CertificateAuthority, Promise<DockerCa>>();

/** The Docker CA of this hub, made on first use (race-safe: the first stored row wins). */
export function dockerCa(core: CaDeps): Promise<DockerCa> {
  let p = loaded.get(core.ca);
  if (!p) {
    p = loadOrCreate(core);
    p.catch(() => loaded.delete(core.ca));
    loaded.set(core.ca, p);
  }
  return p;
}

async function loadOrCreate(core: CaDeps): Promise<DockerCa> {
  const read = async () => (await core.db.select().from(caTable).where(eq(caTable.id, DOCKER_CA_ID)))[0];
  let row = await read();
  if (!row) {
    const made = await makeIntermediate(core.ca);
    await core.db
      .insert(caTable)
      .values({ id: DOCKER_CA_ID, certPem: made.certPem, keyPem: core.keys.seal(made.keyPem, CONTEXT) })
      .onConflictDoNothing();
    row = await read();
    if (!row) throw new Error("docker CA row missing right after insert");
  }
  const keyPem = core.keys.open(row.keyPem, CONTEXT);
  const signingKey = await crypto.subtle.importKey("pkcs8", pemBody(keyPem), EC, false, ["sign"]);
  const cert = new x509.X509Certificate(row.certPem);
  const sign = await createSigner(cert, signingKey, SIGNING_ALG);
  const window = (now: Date) => ({
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + DOCKER_CERT_DAYS * DAY_MS),
  });
  const issue = (leaf: DockerLeaf, now = new Date()) =>
    sign({
      subject: `CN=${leaf.commonName}`,
      publicKey: leaf.publicKey,
      ...window(now),
      extensions: [
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
          true,
        ),
        new x509.ExtendedKeyUsageExtension([
          leaf.kind === "server" ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth,
        ]),
        ...(leaf.kind === "server"
          ? [
              new x509.SubjectAlternativeNameExtension([
                { type: isIP(leaf.address) ? ("ip" as const) : ("dns" as const), value: leaf.address },
              ]),
            ]
          : []),
      ],
    });
  return {
    certPem: row.certPem,
    issue,
    async issueClientWithKey(commonName) {
      const keys = await crypto.subtle.generateKey(EC, true, ["sign", "verify"]);
      const issued = await issue({ kind: "client", commonName, publicKey: keys.publicKey });
      return {
        ...issued,
        keyPem: toPem(await crypto.subtle.exportKey("pkcs8", keys.privateKey), "PRIVATE KEY"),
      };
    },
  };
}

async function makeIntermediate(root: CertificateAuthority): Promise<{ certPem: string; keyPem: string }> {
  const keys = await crypto.subtle.generateKey(EC, true, ["sign", "verify"]);
  const issued = await root.issueIntermediate("powernode Docker CA", keys.publicKey, CA_DAYS);
  return {
    certPem: issued.pem,
    keyPem: toPem(await crypto.subtle.exportKey("pkcs8", keys.privateKey), "PRIVATE KEY"),
  };
}

function pemBody(pem: string): ArrayBuffer {
  const der = Buffer.from(pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""), "base64");
  return der.buffer.slice(der.byteOffset, der.byteOffset + der.byteLength) as ArrayBuffer;
}
