/**
 * Kernel command line parsing, following the kernel's own rules (lib/cmdline.c `next_arg`):
 * parameters are separated by spaces; a double quote starts or ends a quoted run, so both
 * `key="a b"` and `"key=a b"` give `a b`; quotes are removed; a bare word is a flag with value "".
 */

/** Splits a kernel command line into ordered [key, value] pairs. */
export function parseKernelCmdline(cmdline: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  let i = 0;
  const s = cmdline.trim();
  while (i < s.length) {
    while (i < s.length && /\s/.test(s[i] ?? "")) i++;
    if (i >= s.length) break;
    let word = "";
    let quoted = false;
    while (i < s.length) {
      const c = s[i] ?? "";
      if (c === '"') quoted = !quoted;
      else if (!quoted && /\s/.test(c)) break;
      else word += c;
      i++;
    }
    const eq = word.indexOf("=");
    out.push(eq < 0 ? [word, ""] : [word.slice(0, eq), word.slice(eq + 1)]);
  }
  return out;
}

/** The `powernode.*` parameters of a command line, without the prefix; the last occurrence wins. */
export function powernodeParams(cmdline: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of parseKernelCmdline(cmdline)) {
    if (k.startsWith("powernode.")) out[k.slice("powernode.".length)] = v;
  }
  return out;
}
