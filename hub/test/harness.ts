/**
 * Test helpers shared by the hub's suites: a database (in-memory PGlite, or a fresh database on
 * TEST_DATABASE_URL), an in-process hub on port 0, CSRs and clients for both listeners.
 */
import { type PeerCertificate, connect as tlsConnect } from "node:tls";
import "reflect-metadata";
import { randomUUID } from "node:crypto";
import type { DescService } from "@bufbuild/protobuf";
import {
  type Client,
  ConnectError,
  createClient,
  type Interceptor,
  type Transport,
} from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import * as x509 from "@peculiar/x509";
import { Arch, NodeService, ProvisionService } from "@powernode/proto";
import { eq } from "drizzle-orm";
import postgres from "postgres";
import { toPem } from "../src/ca/signer.ts";
import { createDb, type DbHandle } from "../src/db/client.ts";
import { migrateToLatest } from "../src/db/migrate.ts";
import { instances, modules, moduleVersions } from "../src/db/schema/index.ts";
import { type RunningHub, type StartHubOptions, startHub } from "../src/hub.ts";
import { createLogger } from "../src/log.ts";
import { applyModuleAssignment } from "../src/provision/module-assignments.ts";

/** A logger that keeps tests quiet (warnings and errors still show). */
export const quietLog = createLogger({ level: "warn", fields: { component: "test" } });

/** Makes a fresh, empty database on TEST_DATABASE_URL; returns its URL and how to drop it. */
async function freshPostgresDatabase(baseUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `pn_test_${randomUUID().replace(/-/g, "").slice(0, 16)}`;
  const admin = postgres(baseUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  await admin.end();
  const u = new URL(baseUrl);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    drop: async () => {
      const a = postgres(baseUrl, { max: 1, onnotice: () => {} });
      await a.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await a.end();
    },
  };
}

/** A migrated database for a test file: PGlite in memory, or a fresh PostgreSQL database. */
export async function createTestDb(): Promise<
  DbHandle & { url: string; [Symbol.asyncDispose](): Promise<void> }
> {
  const base = process.env.TEST_DATABASE_URL;
  if (!base) {
    const h = await createDb("memory://");
    await migrateToLatest(h);
    return { ...h, url: "memory://", [Symbol.asyncDispose]: () => h.close() };
  }
  const fresh = await freshPostgresDatabase(base);
  const h = await createDb(fresh.url, { maxConnections: 10 });
  await migrateToLatest(h);
  const close = async () => {
    await h.close();
    await fresh.drop();
  };
  return { ...h, url: fresh.url, close, [Symbol.asyncDispose]: close };
}

/** Which database the db suites run on. */
export const testDbKind = process.env.TEST_DATABASE_URL ? "postgres" : "pglite";

/** Starts a hub on port 0 over the test database (fresh PostgreSQL database or in-memory PGlite). */
export async function startTestHub(opts: StartHubOptions = {}): Promise<RunningHub & AsyncDisposable> {
  const base = process.env.TEST_DATABASE_URL;
  const fresh = base && !("databaseUrl" in opts) ? await freshPostgresDatabase(base) : undefined;
  const hub = await startHub({
    listenHost: "127.0.0.1",
    log: quietLog,
    ...(fresh ? { databaseUrl: fresh.url } : {}),
    ...opts,
  });
  const stop = async () => {
    await hub.stop();
    await fresh?.drop();
  };
  return { ...hub, stop, [Symbol.asyncDispose]: stop };
}

/** A key pair and CSR. */
export interface TestCsr {
  csrPem: string;
  keyPem: string;
}

/** Makes a key of `kind` and a CSR with subject `CN=<cn>`. */
export async function makeCsr(cn: string, kind: "ec" | "rsa" | "ec384" | "ed25519" = "ec"): Promise<TestCsr> {
  let alg: {
    name: string;
    modulusLength?: number;
    publicExponent?: Uint8Array;
    hash?: string;
    namedCurve?: string;
  };
  let signingAlgorithm: { name: string; hash?: string };
  if (kind === "rsa") {
    alg = {
      name: "RSASSA-PKCS1-v1_5",
      modulusLength: 2048,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: "SHA-256",
    };
    signingAlgorithm = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
  } else if (kind === "ed25519") {
    alg = { name: "Ed25519" };
    signingAlgorithm = { name: "Ed25519" };
  } else {
    alg = { name: "ECDSA", namedCurve: kind === "ec384" ? "P-384" : "P-256" };
    signingAlgorithm = { name: "ECDSA", hash: "SHA-256" };
  }
  const keys = (await crypto.subtle.generateKey(
    alg as Parameters<typeof crypto.subtle.generateKey>[0],
    true,
    ["sign", "verify"],
  )) as CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: `CN=${cn}`,
    keys,
    signingAlgorithm,
  });
  return {
    csrPem: csr.toString("pem"),
    keyPem: toPem(await crypto.subtle.exportKey("pkcs8", keys.privateKey), "PRIVATE KEY"),
  };
}

/** Adds `Authorization: Bearer <token>`. */
export function bearer(token: string): Interceptor {
  return (next) => (req) => {
    req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
}

/** An operator client on the operator listener (Connect protocol, HTTP/1.1; the hub's CA when it is HTTPS). */
export function operatorClient<T extends DescService>(
  hub: RunningHub,
  service: T,
  token = hub.adminToken,
): Client<T> {
  const transport = createConnectTransport({
    baseUrl: hub.httpUrl,
    httpVersion: "1.1",
    interceptors: [bearer(token)],
    ...(hub.operatorTls ? { nodeOptions: { ca: hub.caPem } } : {}),
  });
  return createClient(service, transport);
}

/** A gRPC transport to the mTLS listener, with an optional client certificate. */
export function nodeTransport(hub: RunningHub, cert?: { certPem: string; keyPem: string }): Transport {
  return createGrpcTransport({
    baseUrl: hub.mtlsUrl,
    nodeOptions: { ca: hub.caPem, ...(cert ? { cert: cert.certPem, key: cert.keyPem } : {}) },
  });
}

/** Waits for `probe` to return a value (not undefined), failing with `what` after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 5000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** An enrolled test node: its id, certificate and key, and a NodeService client over mTLS. */
export interface EnrolledTestNode {
  id: string;
  certPem: string;
  keyPem: string;
  client: Client<typeof NodeService>;
}

/**
 * Creates an instance (provider "none", of `template` when given) and enrolls it with a fresh EC CSR
 * over the mTLS listener.
 */
export async function enrollTestNode(
  hub: RunningHub,
  name: string,
  opts: { template?: string; agentVersion?: string } = {},
): Promise<EnrolledTestNode> {
  const created = await operatorClient(hub, ProvisionService).createInstance({
    name,
    arch: Arch.AMD64,
    provider: "none",
    template: opts.template ?? "",
  });
  const id = created.instance?.id ?? "";
  const csr = await makeCsr(id);
  const res = await createClient(NodeService, nodeTransport(hub)).enroll({
    bootstrapToken: created.bootstrapToken,
    csrPem: csr.csrPem,
    instanceUuid: id,
    agentVersion: opts.agentVersion ?? "test",
  });
  const cert = { certPem: res.certificatePem, keyPem: csr.keyPem };
  return { id, ...cert, client: createClient(NodeService, nodeTransport(hub, cert)) };
}

/** A module for {@link assignTestModules}: what the catalog row carries. */
export interface TestModule {
  name: string;
  version: string;
  metadataDigest: string;
  verityRootHash: string;
  priority?: number;
}

/**
 * Puts `mods` into the catalog for the node's arch (rows only: a placeholder OCI digest, nothing in the
 * registry) and assigns them to the node through the real path (AssignModules' compile). Returns the
 * new desired version.
 */
export async function assignTestModules(
  hub: RunningHub,
  nodeId: string,
  mods: readonly TestModule[],
): Promise<number> {
  const { db } = hub.deps;
  const [inst] = await db.select().from(instances).where(eq(instances.id, nodeId));
  if (!inst) throw new Error(`assignTestModules: no instance ${nodeId}`);
  for (const m of mods) {
    const [row] = await db
      .insert(modules)
      .values({ name: m.name, priority: m.priority ?? 0 })
      .onConflictDoUpdate({ target: modules.name, set: { priority: m.priority ?? 0 } })
      .returning();
    if (!row) throw new Error(`assignTestModules: module ${m.name} not written`);
    await db
      .insert(moduleVersions)
      .values({
        moduleId: row.id,
        version: m.version,
        arch: inst.arch,
        fsverityDigest: m.metadataDigest,
        verityRootHash: m.verityRootHash,
        ociDigest: `sha256:${"0".repeat(64)}`,
      })
      .onConflictDoNothing();
  }
  const r = await applyModuleAssignment(
    hub.deps,
    nodeId,
    mods.map((m) => ({ name: m.name, version: m.version })),
  );
  return r.version;
}

/**
 * The certificate a TLS listener at `url` presents for `servername`, checked against `ca` (the
 * handshake fails when it does not verify).
 */
export function peerCertificate(url: string, ca: string, servername = "localhost"): Promise<PeerCertificate> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = tlsConnect(
      { host: u.hostname, port: Number(u.port), ca, servername, ALPNProtocols: ["h2", "http/1.1"] },
      () => {
        const cert = socket.getPeerCertificate();
        socket.end();
        resolve(cert);
      },
    );
    socket.once("error", reject);
  });
}

/** Awaits `p`: undefined when it resolves, else the refusal's code and raw message. */
export async function refusalOf(p: Promise<unknown>): Promise<{ code: number; message: string } | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    const c = ConnectError.from(e);
    return { code: c.code, message: c.rawMessage };
  }
}
