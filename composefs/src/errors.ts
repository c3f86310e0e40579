/**
 * The one typed error for malformed composefs / EROFS / verity input: it names the byte offset where
 * the problem was found and what the problem is, so a hostile image never surfaces as a crash.
 */
export class ComposefsFormatError extends Error {
  /** A stable discriminator, so callers need not rely on `instanceof` across package copies. */
  readonly kind = "composefs-format" as const;
  constructor(
    /** Byte offset in the input where the problem was detected. */
    readonly offset: number,
    /** Human-readable description of what is wrong there. */
    readonly problem: string,
    options?: ErrorOptions,
  ) {
    super(`at offset ${offset}: ${problem}`, options);
    this.name = "ComposefsFormatError";
  }
}

/** Result of a parser of untrusted bytes: a value, or the typed error that says where and why. */
export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: ComposefsFormatError };

/** True if `e` is a {@link ComposefsFormatError} (checked by `kind`, not by `instanceof`). */
export function isComposefsFormatError(e: unknown): e is ComposefsFormatError {
  return typeof e === "object" && e !== null && (e as { kind?: unknown }).kind === "composefs-format";
}
