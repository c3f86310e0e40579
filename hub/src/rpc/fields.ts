/**
 * Edge checks of request fields, once: each returns the clean value or throws an `invalid_argument`
 * DomainError whose message starts with the field's name (`instance_id: not a UUID`). Services call
 * these instead of writing their own patterns.
 */
import { DomainError } from "../errors.ts";

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Lowercase DNS-label-like names: modules, templates, networks. */
const NAME_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const HEX64_RE = /^[0-9a-f]{64}$/;

/** A host name (DNS labels) or an IP address, as a storage upstream or a collector names it. */
export const HOST_OR_ADDRESS_RE =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|[0-9a-fA-F:.]+)$/;

function invalid(field: string, problem: string): DomainError {
  return new DomainError("invalid_argument", `${field}: ${problem}`);
}

/** True for a lowercase canonical UUID. */
export function isUuid(v: string): boolean {
  return UUID_RE.test(v);
}

/** A required UUID (upper case accepted, returned lower-cased). */
export function uuidField(field: string, v: string): string {
  if (v === "") throw invalid(field, "required");
  const lower = v.toLowerCase();
  if (!UUID_RE.test(lower)) throw invalid(field, "not a UUID");
  return lower;
}

/** An optional UUID: "" is absent (undefined). */
export function optionalUuidField(field: string, v: string): string | undefined {
  return v === "" ? undefined : uuidField(field, v);
}

export interface TextRules {
  /** Longest accepted, in characters (default 1024). */
  max?: number;
  required?: boolean;
}

/** Free text: no NUL (PostgreSQL text cannot hold it), at most `max` characters. */
export function textField(field: string, v: string, rules: TextRules = {}): string {
  const max = rules.max ?? 1024;
  if (rules.required && v === "") throw invalid(field, "required");
  if (v.length > max) throw invalid(field, `longer than ${max}`);
  if (v.includes("\u0000")) throw invalid(field, "contains a NUL character");
  return v;
}

/** A lowercase name (1-63 of a-z 0-9 -, not starting or ending with -). `what` names the kind of thing. */
export function nameField(field: string, v: string, what = "name"): string {
  if (v === "") throw invalid(field, "required");
  if (!NAME_RE.test(v)) throw invalid(field, `"${v.slice(0, 64)}" is not a ${what} (a-z 0-9 -, at most 63)`);
  return v;
}

/** 64 lowercase hex characters (a sha256 digest or root hash). */
export function hex64Field(field: string, v: string): string {
  if (!HEX64_RE.test(v)) throw invalid(field, "must be 64 lowercase hex characters");
  return v;
}

/** An integer in [min, max]. */
export function intField(field: string, v: number, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max) throw invalid(field, `must be ${min} to ${max}`);
  return v;
}

/** A list of at most `max` entries. */
export function listField<T>(field: string, v: readonly T[], max: number): readonly T[] {
  if (v.length > max) throw invalid(field, `more than ${max}`);
  return v;
}

/** Largest value of a PostgreSQL `integer` (int4) column: where uint32 fields are stored. */
export const INT4_MAX = 2_147_483_647;

/**
 * A uint64/int64 wire value the hub keeps as a JS number (stored in a `bigint` column): an integer in
 * [min, max], max at most Number.MAX_SAFE_INTEGER (2^53 - 1, below bigint's 2^63 - 1).
 */
export function safeIntField(field: string, v: bigint, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (v < BigInt(min) || v > BigInt(max)) throw invalid(field, `must be ${min} to ${max}`);
  return Number(v);
}

/** A float/double wire value: finite (no NaN or infinity) and in [min, max]. */
export function finiteField(field: string, v: number, min: number, max: number): number {
  if (!Number.isFinite(v) || v < min || v > max)
    throw invalid(field, `must be a finite number from ${min} to ${max}`);
  return v;
}

/** One of `allowed`: `kind: "x" is not vm, container or router` otherwise. */
export function choiceField<T extends string>(field: string, v: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(v)) return v as T;
  const list =
    allowed.length > 1 ? `${allowed.slice(0, -1).join(", ")} or ${allowed.at(-1)}` : allowed.join("");
  throw invalid(field, `"${v.slice(0, 20)}" is not ${list}`);
}
