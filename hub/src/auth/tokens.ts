/** Secret tokens: random plaintext shown once, stored only as a sha256 hex digest. */
import { createHash, randomBytes } from "node:crypto";

/** sha256 hex of a token's plaintext, as stored. */
export function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/** A fresh random token, `<prefix>_<43 base64url chars>` (256 bits). */
export function newToken(prefix: string): string {
  return `${prefix}_${randomBytes(32).toString("base64url")}`;
}
