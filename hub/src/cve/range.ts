/**
 * Affected-version ranges of a CVE record: Debian relations joined by commas (`<< 3.0.15-1~deb12u1`,
 * `>= 3.0.0, << 3.0.15-1~deb12u1`); a version is affected when it satisfies every one. Parsed at the
 * edge; the obsolete `<` and `>` (which Debian reads as `<=` and `>=`) are refused as ambiguous.
 */
import { type DebRelation, satisfiesRelation } from "@powernode/debian";

export interface Relation {
  op: DebRelation;
  version: string;
}

const OPS: readonly DebRelation[] = ["<<", "<=", ">=", ">>", "="];
const VERSION = /^(\d+:)?[0-9][0-9A-Za-z.+~-]*$/;

/** Parses `range`; the error says what is wrong with which part. */
export function parseRange(range: string): { ok: true; value: Relation[] } | { ok: false; error: string } {
  const parts = range.split(",").map((p) => p.trim());
  if (range.trim() === "" || parts.some((p) => p === ""))
    return { ok: false, error: 'empty (want e.g. "<< 3.0.15-1~deb12u1")' };
  const out: Relation[] = [];
  for (const p of parts) {
    const op = OPS.find((o) => p.startsWith(o));
    if (!op) {
      const hint =
        p.startsWith("<") || p.startsWith(">") ? ` ("<" and ">" are ambiguous: use << <= >= >>)` : "";
      return { ok: false, error: `"${p.slice(0, 40)}": no relation << <= = >= >>${hint}` };
    }
    const version = p.slice(op.length).trim();
    if (!VERSION.test(version) || version.length > 128)
      return { ok: false, error: `"${p.slice(0, 40)}": "${version.slice(0, 40)}" is not a Debian version` };
    out.push({ op, version });
  }
  return { ok: true, value: out };
}

/** Whether `version` is in the range (satisfies every relation, by Debian version order). */
export function inRange(version: string, relations: readonly Relation[]): boolean {
  return relations.every((r) => satisfiesRelation(version, r.op, r.version));
}
