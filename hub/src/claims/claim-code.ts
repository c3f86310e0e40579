/**
 * Claim codes: 8 characters from an alphabet without look-alikes (no 0 O 1 I L U), shown as
 * `XXXX-XXXX`: about 40 bits, typed by an operator from a console. Codes are only half the secret:
 * a device polls with its own poll secret, so guessing a code gets nothing.
 */
import { randomBytes } from "node:crypto";
import { DomainError } from "../errors.ts";

const ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ";
const CODE_RE = new RegExp(`^[${ALPHABET}]{4}-[${ALPHABET}]{4}$`);

/** A fresh random code. */
export function newClaimCode(): string {
  let s = "";
  while (s.length < 8) {
    // 256 % 30 != 0: values from 240 up would favour the first letters, so they are redrawn.
    for (const b of randomBytes(12)) if (b < 240 && s.length < 8) s += ALPHABET[b % 30];
  }
  return `${s.slice(0, 4)}-${s.slice(4)}`;
}

/** Parses a code as an operator types it (any case, dash optional); throws naming the field. */
export function claimCodeField(field: string, raw: string): string {
  const compact = raw.trim().toUpperCase().replaceAll("-", "");
  const v = `${compact.slice(0, 4)}-${compact.slice(4)}`;
  if (!CODE_RE.test(v))
    throw new DomainError(
      "invalid_argument",
      `${field}: "${raw.slice(0, 16)}" is not a claim code (XXXX-XXXX)`,
    );
  return v;
}
