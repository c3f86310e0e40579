/**
 * `identity.cfg`, the identity on a disk image's boot partition (the third source, after fw-cfg and
 * the kernel cmdline): `key=value` lines with the fw-cfg keys (`instance_uuid`, `bootstrap_token`,
 * `platform_url`, `ca_pem`, `ip`), `#` comments and blank lines ignored, values optionally in double
 * quotes. `ca_pem` is base64 of the PEM on one line, or the PEM itself starting on the `ca_pem=` line
 * and running to its last `-----END CERTIFICATE-----` line. An unknown key is an error naming its line
 * (a typo must not turn into "no identity").
 */
import { FW_CFG_KEYS } from "../sys/fw-cfg.ts";
import type { RawIdentity } from "./parse-identity.ts";

const KNOWN = new Set<string>(FW_CFG_KEYS);

/** The raw values of an identity.cfg text; throws naming the first bad line. */
export function parseIdentityFile(text: string): RawIdentity {
  const out: RawIdentity = {};
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? "").trim();
    if (line === "" || line.startsWith("#")) continue;
    const eq = line.indexOf("=");
    if (eq <= 0) throw new Error(`identity.cfg line ${i + 1}: expected key=value`);
    const key = line.slice(0, eq).trim().toLowerCase();
    if (!KNOWN.has(key))
      throw new Error(
        `identity.cfg line ${i + 1}: unknown key "${key.slice(0, 32)}" (known: ${FW_CFG_KEYS.join(", ")})`,
      );
    let value = line.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    if (key === "ca_pem" && value.startsWith("-----BEGIN")) {
      // A PEM block (or several) over the following lines.
      const block = [value];
      while (i + 1 < lines.length) {
        const next = (lines[i + 1] ?? "").trim();
        const more =
          next.startsWith("-----BEGIN") || /^[A-Za-z0-9+/=]+$/.test(next) || next.startsWith("-----END");
        if (!more) break;
        block.push(next);
        i++;
      }
      value = `${block.join("\n")}\n`;
    }
    out[key] = value;
  }
  return out;
}
