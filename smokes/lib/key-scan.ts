/**
 * Proof that the hub keeps no node's WireGuard private key: every table is dumped as text, and every
 * 32-byte value in it (base64 or hex) is tried as an X25519 private key; if the public key it gives is
 * one a member reported, the hub holds that member's private key. Works without knowing the keys (the
 * site tier's keys never leave the VMs); with known keys (`alsoLookFor`) they are searched literally too.
 */
import { createPrivateKey, createPublicKey } from "node:crypto";
import type { RunningHub } from "@powernode/hub";
import { sql } from "drizzle-orm";
import { rowsOf } from "../../hub/src/db/client.ts";

/** PKCS#8 prefix of a raw X25519 private key. */
const X25519_PKCS8 = Buffer.from("302e020100300506032b656e04220420", "hex");

function x25519PublicOf(raw: Buffer): string | undefined {
  try {
    const priv = createPrivateKey({ key: Buffer.concat([X25519_PKCS8, raw]), format: "der", type: "pkcs8" });
    const x = createPublicKey(priv).export({ format: "jwk" }).x;
    return x ? Buffer.from(x, "base64url").toString("base64") : undefined;
  } catch {
    return undefined;
  }
}

/** Every 32-byte candidate in `text`: base64 (44 chars with padding) and 64 hex digits. */
function candidates(text: string): Buffer[] {
  const out: Buffer[] = [];
  for (const m of text.matchAll(/[A-Za-z0-9+/]{43}=/g)) out.push(Buffer.from(m[0], "base64"));
  for (const m of text.matchAll(/(?<![0-9a-fA-F])[0-9a-fA-F]{64}(?![0-9a-fA-F])/g))
    out.push(Buffer.from(m[0], "hex"));
  return out;
}

export interface KeyScan {
  tables: number;
  bytes: number;
  candidates: number;
  /** "<table>: private key of <public key>" for every leak found. */
  leaks: string[];
}

/** Scans every table of the hub's database for the private keys of `memberPublicKeys`. */
export async function scanForPrivateKeys(
  hub: RunningHub,
  memberPublicKeys: readonly string[],
  alsoLookFor: readonly string[] = [],
): Promise<KeyScan> {
  const want = new Set(memberPublicKeys);
  const tables = rowsOf<{ table_name: string }>(
    await hub.deps.db.execute(
      sql`select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE'`,
    ),
  );
  const scan: KeyScan = { tables: tables.length, bytes: 0, candidates: 0, leaks: [] };
  for (const { table_name } of tables) {
    const text = JSON.stringify(
      rowsOf(await hub.deps.db.execute(sql.raw(`select t::text from "${table_name}" t`))),
    );
    scan.bytes += text.length;
    for (const c of candidates(text)) {
      scan.candidates++;
      const pub = x25519PublicOf(c);
      if (pub && want.has(pub)) scan.leaks.push(`${table_name}: private key of ${pub}`);
    }
    for (const k of alsoLookFor) if (text.includes(k)) scan.leaks.push(`${table_name}: a known private key`);
  }
  return scan;
}
