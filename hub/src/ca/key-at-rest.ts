/**
 * Private keys at rest: the CA key and the constellation signing keys are stored in the database
 * sealed with AES-256-GCM under a key-encryption key (KEK) that is kept outside the database: the
 * env secret POWERNODE_CA_KEK (base64 of 32 bytes), else the 0600 file `$POWERNODE_DATA/ca.kek`
 * (made on first start). A copy of the database alone (a dump, a backup, a stolen disk image of the
 * database server) does not yield the keys.
 *
 * Sealed text: `pnkey:v1:<kek id>:<iv>:<ciphertext + tag>` (base64url), where the KEK id is the first
 * 16 hex digits of the KEK's SHA-256, and the additional data binds the text to where it is stored
 * (`ca:root`, `network:<id>`), so a sealed key copied into another row does not open.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

/** Length of the KEK in bytes (AES-256). */
export const KEK_BYTES = 32;
const PREFIX = "pnkey:v1:";
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Seals and opens private keys with one KEK. */
export interface KeyAtRest {
  /** The KEK's id (16 hex digits of its SHA-256): in every sealed text, safe to show. */
  readonly keyId: string;
  /** Where the KEK came from (`POWERNODE_CA_KEK` or the file's path), for messages. */
  readonly source: string;
  /** Seals `plaintext` for the place `context` (e.g. `ca:root`). */
  seal(plaintext: string, context: string): string;
  /** Opens what {@link seal} made for `context`; throws naming `context` and the reason. */
  open(sealed: string, context: string): string;
}

/** Thrown when a sealed key cannot be opened or the KEK is missing or malformed. */
export class KeyAtRestError extends Error {
  readonly kind = "key_at_rest";
  constructor(message: string) {
    super(message);
    this.name = "KeyAtRestError";
  }
}

/** True when `value` is sealed text (and not, e.g., a plain PEM of an older hub). */
export function isSealed(value: string): boolean {
  return value.startsWith(PREFIX);
}

/** The id of a KEK: the first 16 hex digits of its SHA-256. */
export function kekIdOf(kek: Uint8Array): string {
  return createHash("sha256").update(kek).digest("hex").slice(0, 16);
}

/** The KEK id a sealed text was made with, or undefined when it is not sealed text. */
export function sealedKeyId(value: string): string | undefined {
  if (!isSealed(value)) return undefined;
  return value.slice(PREFIX.length).split(":")[0];
}

/** Creates the sealer over a 32-byte KEK. */
export function createKeyAtRest(kek: Uint8Array, source: string): KeyAtRest {
  if (kek.length !== KEK_BYTES)
    throw new KeyAtRestError(`${source}: the key-encryption key is ${kek.length} bytes, not ${KEK_BYTES}`);
  const key = Buffer.from(kek);
  const keyId = kekIdOf(key);
  const aad = (context: string) => Buffer.from(`${PREFIX}${keyId}:${context}`, "utf8");
  return {
    keyId,
    source,
    seal(plaintext, context) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv("aes-256-gcm", key, iv);
      cipher.setAAD(aad(context));
      const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final(), cipher.getAuthTag()]);
      return `${PREFIX}${keyId}:${iv.toString("base64url")}:${body.toString("base64url")}`;
    },
    open(sealed, context) {
      if (!isSealed(sealed))
        throw new KeyAtRestError(`${context}: the stored key is not sealed (plain text in the database)`);
      const [id, ivText, bodyText, ...extra] = sealed.slice(PREFIX.length).split(":");
      if (!id || ivText === undefined || bodyText === undefined || extra.length > 0)
        throw new KeyAtRestError(`${context}: the sealed key is malformed`);
      if (id !== keyId)
        throw new KeyAtRestError(
          `${context}: sealed with key-encryption key ${id}, but this hub's key (${source}) is ${keyId}: ` +
            "start it with the key the database was sealed with (POWERNODE_CA_KEK or the ca.kek file)",
        );
      const iv = Buffer.from(ivText, "base64url");
      const body = Buffer.from(bodyText, "base64url");
      if (iv.length !== IV_BYTES || body.length < TAG_BYTES)
        throw new KeyAtRestError(`${context}: the sealed key is malformed`);
      try {
        const decipher = createDecipheriv("aes-256-gcm", key, iv);
        decipher.setAAD(aad(context));
        decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
        return Buffer.concat([
          decipher.update(body.subarray(0, body.length - TAG_BYTES)),
          decipher.final(),
        ]).toString("utf8");
      } catch (e) {
        throw new KeyAtRestError(
          `${context}: the sealed key does not open with key-encryption key ${keyId} (${source}): it was altered or belongs to another row (${(e as Error).message})`,
        );
      }
    },
  };
}

/** Decodes POWERNODE_CA_KEK (base64 or base64url of 32 bytes); returns the problem as text otherwise. */
export function parseKek(raw: string): { ok: true; value: Buffer } | { ok: false; error: string } {
  const text = raw.trim();
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(text))
    return { ok: false, error: "not base64 (make one with: openssl rand -base64 32)" };
  const value = Buffer.from(text.replace(/-/g, "+").replace(/_/g, "/"), "base64");
  if (value.length !== KEK_BYTES)
    return {
      ok: false,
      error: `decodes to ${value.length} bytes, not ${KEK_BYTES} (make one with: openssl rand -base64 32)`,
    };
  return { ok: true, value };
}

/** The KEK file under the data dir. */
export function kekFile(dataDir: string): string {
  return join(resolve(dataDir), "ca.kek");
}

/** Where the KEK comes from: the env value, else the file if it exists; undefined when neither. */
export function readKek(opts: { dataDir: string; envKek: string | undefined }): KeyAtRest | undefined {
  if (opts.envKek !== undefined) {
    const parsed = parseKek(opts.envKek);
    if (!parsed.ok) throw new KeyAtRestError(`POWERNODE_CA_KEK: ${parsed.error}`);
    return createKeyAtRest(parsed.value, "POWERNODE_CA_KEK");
  }
  const file = kekFile(opts.dataDir);
  if (!existsSync(file)) return undefined;
  const mode = statSync(file).mode;
  if ((mode & 0o077) !== 0)
    throw new KeyAtRestError(
      `${file}: mode ${(mode & 0o777).toString(8)} lets group or others read the key-encryption key; fix: chmod 600 ${file}`,
    );
  const parsed = parseKek(readFileSync(file, "utf8"));
  if (!parsed.ok) throw new KeyAtRestError(`${file}: ${parsed.error}`);
  return createKeyAtRest(parsed.value, file);
}

/** Makes a fresh KEK file (0600) and returns its sealer; one another start made meanwhile is kept. */
export function createKekFile(dataDir: string): KeyAtRest {
  const file = kekFile(dataDir);
  const kek = randomBytes(KEK_BYTES);
  try {
    // "wx": never replace a key file (a second start on the same data dir may have made it).
    writeFileSync(file, `${kek.toString("base64")}\n`, { mode: 0o600, flag: "wx" });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST")
      throw new KeyAtRestError(`${file}: cannot write the key-encryption key: ${(e as Error).message}`);
    const existing = readKek({ dataDir, envKek: undefined });
    if (!existing) throw new KeyAtRestError(`${file}: exists and vanished while being read`);
    return existing;
  }
  return createKeyAtRest(kek, file);
}
