/**
 * Field escaping of composefs-dump(5) text, exactly as containers/composefs 1.0.8 writes it (`composefs-info
 * dump`) and reads it (`mkcomposefs --from-file`):
 *
 * - `\\`, `\n`, `\r`, `\t` are written as those two-character escapes, every other byte outside `!`..`~`
 *   as `\xNN` (lower-case hex); `=` too in xattr names and values;
 * - optional fields (payload, content, digest) are `-` when absent, so a present value that is exactly `-`
 *   is written `\x2d`; an empty present value is an empty field;
 * - xattr names and values are never optional: `key=` is an empty value and `key=-` the one byte `-`.
 */
import { ComposefsFormatError } from "./errors.ts";
import { bytesToName } from "./tree.ts";

const HEX = "0123456789abcdef";
const PLAIN = /^[!-~]*$/;
const PLAIN_NO_EQUAL = /^[!-<>-~]*$/;

/** How a field is escaped: `equal` also escapes `=` (xattrs), `loneDash` writes a lone `-` as `\x2d`. */
export interface EscapeMode {
  equal?: boolean;
  loneDash?: boolean;
}

/** Escapes a byte string (one char per byte) for a dump field. */
export function escapeDumpField(s: string, mode: EscapeMode = {}): string {
  if (mode.loneDash && s === "-") return "\\x2d";
  if (!s.includes("\\") && (mode.equal ? PLAIN_NO_EQUAL : PLAIN).test(s)) return s;
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x5c) out += "\\\\";
    else if (c === 0x0a) out += "\\n";
    else if (c === 0x0d) out += "\\r";
    else if (c === 0x09) out += "\\t";
    else if (c < 0x21 || c > 0x7e || (c === 0x3d && mode.equal)) out += `\\x${HEX[c >> 4]}${HEX[c & 15]}`;
    else out += s[i];
  }
  return out;
}

/** An optional field: `-` when absent, else the value escaped with a lone `-` protected. */
export function escapeOptional(s: string | undefined): string {
  return s === undefined ? "-" : escapeDumpField(s, { loneDash: true });
}

/** Undoes {@link escapeDumpField} into bytes; `at` is the line offset for errors. */
export function unescapeBytes(s: string, at: number): Uint8Array {
  if (!s.includes("\\")) return Buffer.from(s, "latin1");
  const out = new Uint8Array(s.length);
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c !== 0x5c) {
      out[n++] = c;
      continue;
    }
    const e = s.charCodeAt(++i);
    if (e === 0x5c) out[n++] = 0x5c;
    else if (e === 0x6e) out[n++] = 0x0a;
    else if (e === 0x72) out[n++] = 0x0d;
    else if (e === 0x74) out[n++] = 0x09;
    else {
      const hi = e === 0x78 ? hexValue(s.charCodeAt(i + 1)) : -1;
      const lo = hi < 0 ? -1 : hexValue(s.charCodeAt(i + 2));
      if (lo < 0) throw new ComposefsFormatError(at, `bad escape in ${JSON.stringify(s)}`);
      out[n++] = (hi << 4) | lo;
      i += 2;
    }
  }
  return out.subarray(0, n);
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

/** Undoes {@link escapeDumpField}; `at` is the line offset for errors. */
export function unescapeDumpField(s: string, at: number): string {
  if (!s.includes("\\")) return s;
  return bytesToName(unescapeBytes(s, at));
}

/** An optional field: undefined for `-`, else the unescaped value. */
export function unescapeOptional(s: string, at: number): string | undefined {
  return s === "-" ? undefined : unescapeDumpField(s, at);
}
