/**
 * The private keys the hub keeps in its database (the CA key, every network's constellation key, each
 * Docker host's client key, each K3s cluster's kubeconfig and tokens), at start: find the
 * key-encryption key (or make one on a database that has no sealed key yet), check that every sealed
 * key opens with it, and seal the ones an older hub stored as plain PEM (compare and set per row, so
 * two hubs starting together seal each key once and nothing is lost).
 */
import { and, eq } from "drizzle-orm";
import type { PgColumn, PgTable } from "drizzle-orm/pg-core";
import type { Db } from "../db/client.ts";
import {
  acmeAccounts,
  acmeCertificateVersions,
  ca,
  dnsProviders,
  dockerHosts,
  federationPeers,
  k3sClusters,
  networks,
  registries,
  signingKeys,
} from "../db/schema/index.ts";
import type { Logger } from "../log.ts";
import { registryKeyContext } from "../registries/registries.ts";
import {
  createKekFile,
  isSealed,
  type KeyAtRest,
  KeyAtRestError,
  kekFile,
  readKek,
  sealedKeyId,
} from "./key-at-rest.ts";

/** The CA key's place, as sealed text names it. */
export const CA_KEY_CONTEXT = "ca:root";

/** A network's constellation key's place. */
export function networkKeyContext(networkId: string): string {
  return `network:${networkId}`;
}

interface StoredKey {
  context: string;
  value: string;
  /** Replaces the stored value with `sealed` if it is still `plain`. */
  seal(sealed: string): Promise<void>;
}

/**
 * The keys in one column of one table (one per row; null: none), each sealed back by compare and set.
 * `touch` also sets `updated_at` on tables that have it.
 */
async function columnKeys<T extends PgTable>(
  db: Db,
  table: T,
  id: PgColumn,
  key: PgColumn,
  field: keyof T["$inferInsert"] & string,
  contextOf: (id: string) => string,
  touch = false,
): Promise<StoredKey[]> {
  const rows = await db.select({ id, key }).from(table as PgTable);
  return rows.flatMap((row) => {
    const value = row.key as string | null;
    if (value === null) return [];
    return [
      {
        context: contextOf(String(row.id)),
        value,
        seal: async (sealed: string) => {
          const set = { [field]: sealed, ...(touch ? { updatedAt: new Date() } : {}) };
          await db
            .update(table as PgTable)
            .set(set as never)
            .where(and(eq(id, row.id), eq(key, value)));
        },
      },
    ];
  });
}

/** Every sealed key the database holds: the CA rows (root, docker), the module signing key, constellation keys, Docker hosts' client keys, registries' pull credentials, K3s secrets, ACME keys and DNS provider secrets. */
async function storedKeys(db: Db): Promise<StoredKey[]> {
  const k3s = (key: "kubeconfig" | "serverToken" | "agentToken", column: K3sSecretColumn) =>
    columnKeys(db, k3sClusters, k3sClusters.id, k3sClusters[key], key, (id) => k3sSecretContext(id, column));
  return [
    // One context per CA row: `ca:root`, `ca:docker`.
    ...(await columnKeys(db, ca, ca.id, ca.keyPem, "keyPem", (id) => `ca:${id}`, true)),
    ...(await columnKeys(
      db,
      networks,
      networks.id,
      networks.signingKeyPem,
      "signingKeyPem",
      networkKeyContext,
    )),
    ...(await columnKeys(
      db,
      dockerHosts,
      dockerHosts.id,
      dockerHosts.clientKeyPem,
      "clientKeyPem",
      dockerHostKeyContext,
    )),
    ...(await columnKeys(
      db,
      registries,
      registries.host,
      registries.secret,
      "secret",
      registryKeyContext,
      true,
    )),
    // The module signing key (hub/src/signing): `signing:modules`.
    ...(await columnKeys(
      db,
      signingKeys,
      signingKeys.id,
      signingKeys.keyPem,
      "keyPem",
      (id) => `signing:${id}`,
      true,
    )),
    // Federation (hub/src/federation): this hub's client key for calling each peer.
    ...(await columnKeys(
      db,
      federationPeers,
      federationPeers.id,
      federationPeers.clientKeyPem,
      "clientKeyPem",
      (id) => `federation-peer:${id}`,
      true,
    )),
    ...(await k3s("kubeconfig", "kubeconfig")),
    ...(await k3s("serverToken", "server-token")),
    ...(await k3s("agentToken", "agent-token")),
    // ACME (hub/src/certs): account keys, DNS provider secrets, certificate keys.
    ...(await columnKeys(
      db,
      acmeAccounts,
      acmeAccounts.id,
      acmeAccounts.keyPem,
      "keyPem",
      (id) => `acme-account:${id}`,
      true,
    )),
    ...(await columnKeys(
      db,
      dnsProviders,
      dnsProviders.id,
      dnsProviders.secret,
      "secret",
      (id) => `dns-provider:${id}`,
      true,
    )),
    ...(await columnKeys(
      db,
      acmeCertificateVersions,
      acmeCertificateVersions.id,
      acmeCertificateVersions.keyPem,
      "keyPem",
      (id) => `acme-cert:${id}`,
    )),
  ];
}

/** The sealed columns of a K3s cluster row. */
export type K3sSecretColumn = "kubeconfig" | "server-token" | "agent-token";

/** A K3s cluster secret's place. */
export function k3sSecretContext(clusterId: string, column: K3sSecretColumn): string {
  return `k3s-cluster:${clusterId}:${column}`;
}

/** A managed Docker host's client key's place (the hub's own key for talking to that daemon). */
export function dockerHostKeyContext(hostId: string): string {
  return `docker-host:${hostId}`;
}

/** What {@link openStoredKeys} found and did. */
export interface StoredKeysOpened {
  keys: KeyAtRest;
  /** True when this start made the KEK file. */
  createdKek: boolean;
  /** Keys sealed now that an older hub had stored in plain text. */
  sealedNow: number;
}

/**
 * Finds the KEK (POWERNODE_CA_KEK, else `$POWERNODE_DATA/ca.kek`), or makes the file when the database
 * holds no sealed key; refuses a start whose KEK is missing or does not open every sealed key; seals
 * plain keys. Throws {@link KeyAtRestError} naming the key, the KEK ids and the fix.
 */
export async function openStoredKeys(
  db: Db,
  opts: { dataDir: string; envKek: string | undefined; log?: Logger },
): Promise<StoredKeysOpened> {
  const stored = await storedKeys(db);
  const sealed = stored.filter((k) => isSealed(k.value));
  const plain = stored.filter((k) => !isSealed(k.value));
  let keys = readKek(opts);
  let createdKek = false;
  if (!keys) {
    if (sealed.length > 0) {
      const ids = [...new Set(sealed.map((k) => sealedKeyId(k.value)))].join(", ");
      throw new KeyAtRestError(
        `the database holds ${sealed.length} private key(s) sealed with key-encryption key ${ids}, but ` +
          `POWERNODE_CA_KEK is unset and ${kekFile(opts.dataDir)} does not exist: restore that file ` +
          "from a backup of the data dir, or set POWERNODE_CA_KEK to the key",
      );
    }
    keys = createKekFile(opts.dataDir);
    createdKek = true;
  }
  for (const k of sealed) keys.open(k.value, k.context);
  for (const k of plain) await k.seal(keys.seal(k.value, k.context));
  const sealedNow = plain.length;
  if (sealedNow > 0)
    opts.log?.info("sealed private keys stored in plain text by an older hub", {
      count: sealedNow,
      kek: keys.keyId,
      kekSource: keys.source,
    });
  return { keys, createdKek, sealedNow };
}
