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

/** Undoes {@link escapeDumpField}; `at` is the line offset for errors. */
export function unescapeDumpField(s: string, at: number): string {
  if (!s.includes("\\")) return s;
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const ch = s[i] as string;
    if (ch !== "\\") {
      out += ch;
      continue;
    }
    const n = s[i + 1];
    if (n === "\\") out += "\\";
    else if (n === "n") out += "\n";
    else if (n === "r") out += "\r";
    else if (n === "t") out += "\t";
    else if (n === "x" && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 2, i + 4))) {
      out += String.fromCharCode(Number.parseInt(s.slice(i + 2, i + 4), 16));
      i += 2;
    } else throw new ComposefsFormatError(at, `bad escape in ${JSON.stringify(s)}`);
    i++;
  }
  return out;
}

/** An optional field: undefined for `-`, else the unescaped value. */
export function unescapeOptional(s: string, at: number): string | undefined {
  return s === "-" ? undefined : unescapeDumpField(s, at);
}
