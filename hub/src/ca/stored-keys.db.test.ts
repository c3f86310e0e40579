/**
 * Private keys at rest (issue 23 item 6): the CA key and the constellation keys are sealed in the
 * database with a key kept outside it; plain keys of an older hub are sealed at start with nothing lost;
 * a missing or wrong key-encryption key stops the start with a message that says which and what to do.
 * Hubs restart on one database: PGlite on disk, or one PostgreSQL database (TEST_DATABASE_URL).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NetworkService } from "@powernode/proto";
import { eq, sql } from "drizzle-orm";
import { createTestDb, operatorClient, quietLog, testDbKind } from "../../test/harness.ts";
import { rowsOf } from "../db/client.ts";
import { ca, networks, signingKeys } from "../db/schema/index.ts";
import { type StartHubOptions, startHub } from "../hub.ts";
import { isSealed, kekFile, kekIdOf, sealedKeyId } from "./key-at-rest.ts";
import { CA_KEY_CONTEXT, networkKeyContext } from "./stored-keys.ts";

const scratch = mkdtempSync(join(tmpdir(), "pn-keys-"));
const drops: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const d of drops) await d();
  rmSync(scratch, { recursive: true, force: true });
});

/** A data dir and a database that outlive one hub: PGlite under the data dir, or a PostgreSQL database. */
async function persistentPlace(name: string): Promise<StartHubOptions> {
  const dataDir = join(scratch, name);
  const base = { dataDir, listenHost: "127.0.0.1", log: quietLog, providers: [] };
  if (testDbKind !== "postgres") return { ...base, databaseUrl: undefined };
  const h = await createTestDb();
  drops.push(() => h.close());
  return { ...base, databaseUrl: h.url };
}

describe(`private keys at rest (${testDbKind})`, () => {
  test("an older hub's plain CA and constellation keys are sealed at start, nothing lost", async () => {
    const place = await persistentPlace("upgrade");
    const first = await startHub(place);
    let caKey: string;
    let netKey: string;
    let networkId: string;
    try {
      const { network } = await operatorClient(first, NetworkService).createNetwork({ name: "sealed-net" });
      networkId = network?.id ?? "";
      const db = first.deps.db;
      const [caRow] = await db.select().from(ca);
      const [netRow] = await db.select().from(networks).where(eq(networks.id, networkId));
      if (!caRow || !netRow) throw new Error("rows missing");
      expect(isSealed(caRow.keyPem)).toBe(true);
      expect(isSealed(netRow.signingKeyPem)).toBe(true);
      caKey = first.deps.keys.open(caRow.keyPem, CA_KEY_CONTEXT);
      netKey = first.deps.keys.open(netRow.signingKeyPem, networkKeyContext(networkId));
      expect(caKey).toStartWith("-----BEGIN RSA PRIVATE KEY-----");
      expect(netKey).toStartWith("-----BEGIN PRIVATE KEY-----");
      // What a hub before sealing stored: plain PEM, and no ca.kek (nor a module signing key, which
      // came later).
      await db.update(ca).set({ keyPem: caKey });
      await db.delete(signingKeys);
      await db.update(networks).set({ signingKeyPem: netKey }).where(eq(networks.id, networkId));
    } finally {
      await first.stop();
    }
    rmSync(kekFile(place.dataDir ?? ""));

    const second = await startHub(place);
    try {
      expect(second.caPem).toBe(first.caPem);
      const [caRow] = await second.deps.db.select().from(ca);
      const [netRow] = await second.deps.db.select().from(networks).where(eq(networks.id, networkId));
      if (!caRow || !netRow) throw new Error("rows missing");
      expect(sealedKeyId(caRow.keyPem)).toBe(second.deps.keys.keyId);
      expect(sealedKeyId(netRow.signingKeyPem)).toBe(second.deps.keys.keyId);
      expect(second.deps.keys.open(caRow.keyPem, CA_KEY_CONTEXT)).toBe(caKey);
      expect(second.deps.keys.open(netRow.signingKeyPem, networkKeyContext(networkId))).toBe(netKey);
      expect(second.deps.keys.source).toBe(kekFile(place.dataDir ?? ""));
    } finally {
      await second.stop();
    }
  }, 120_000);

  test("a missing or wrong key-encryption key stops the start, naming the key ids and the fix", async () => {
    const place = await persistentPlace("kek");
    const first = await startHub(place);
    const keyId = first.deps.keys.keyId;
    await first.stop();
    const file = kekFile(place.dataDir ?? "");
    const saved = await Bun.file(file).text();
    rmSync(file);
    // Two: the CA key and the module signing key.
    await expect(startHub(place)).rejects.toThrow(
      `the database holds 2 private key(s) sealed with key-encryption key ${keyId}, but POWERNODE_CA_KEK is unset and ${file} does not exist: restore that file from a backup of the data dir, or set POWERNODE_CA_KEK to the key`,
    );
    const wrong = randomBytes(32);
    await expect(
      startHub({ ...place, security: { caKek: wrong.toString("base64"), metricsListen: undefined } }),
    ).rejects.toThrow(
      `ca:root: sealed with key-encryption key ${keyId}, but this hub's key (POWERNODE_CA_KEK) is ${kekIdOf(wrong)}`,
    );
    // The same key given in the environment instead of the file works.
    const again = await startHub({ ...place, security: { caKek: saved.trim(), metricsListen: undefined } });
    expect(again.deps.keys.keyId).toBe(keyId);
    expect(again.deps.keys.source).toBe("POWERNODE_CA_KEK");
    await again.stop();
  }, 120_000);

  test("with POWERNODE_CA_KEK no key file is written; no table holds a private key in plain text", async () => {
    const place = await persistentPlace("env");
    const kek = randomBytes(32);
    const hub = await startHub({
      ...place,
      security: { caKek: kek.toString("base64"), metricsListen: undefined },
    });
    try {
      expect(await Bun.file(kekFile(place.dataDir ?? "")).exists()).toBe(false);
      expect(hub.deps.keys.keyId).toBe(kekIdOf(kek));
      await operatorClient(hub, NetworkService).createNetwork({ name: "scan-net" });
      const tables = rowsOf<{ table_name: string }>(
        await hub.deps.db.execute(
          sql`select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE'`,
        ),
      );
      expect(tables.map((t) => t.table_name)).toContain("ca");
      for (const { table_name } of tables) {
        const dump = JSON.stringify(
          rowsOf(await hub.deps.db.execute(sql.raw(`select t::text from "${table_name}" t`))),
        );
        expect({ table_name, plain: dump.includes("PRIVATE KEY") }).toEqual({ table_name, plain: false });
      }
    } finally {
      await hub.stop();
    }
  }, 60_000);
});
