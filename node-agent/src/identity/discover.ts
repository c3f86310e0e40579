/**
 * Finds the node identity: the first source that answers (gives an instance_uuid) wins, and its values
 * are then parsed; a source that answers with bad values is an error, never a silent fall-through.
 */
import { powernodeParams } from "./cmdline.ts";
import { type Identity, IdentityError, parseIdentity, type RawIdentity } from "./parse-identity.ts";

/** One place an identity may come from. `read` returns undefined when the source has nothing. */
export interface IdentitySourceReader {
  name: string;
  read(): RawIdentity | undefined;
}

/** A source over the `powernode.*` parameters of a kernel command line. */
export function cmdlineSource(readCmdline: () => string): IdentitySourceReader {
  return { name: "kernel cmdline", read: () => powernodeParams(readCmdline()) };
}

export type DiscoverResult =
  | { ok: true; value: Identity; source: string }
  | { ok: false; error: IdentityError };

/** Tries the sources in order; returns the first answering source's parsed identity or all problems. */
export function discoverIdentity(sources: readonly IdentitySourceReader[]): DiscoverResult {
  const tried: string[] = [];
  for (const s of sources) {
    let raw: RawIdentity | undefined;
    try {
      raw = s.read();
    } catch (err) {
      tried.push(`${s.name} (unreadable: ${err instanceof Error ? err.message : String(err)})`);
      continue;
    }
    if (!raw?.instance_uuid?.trim()) {
      tried.push(`${s.name} (no instance_uuid)`);
      continue;
    }
    const r = parseIdentity(raw, s.name);
    return r.ok ? { ok: true, value: r.value, source: s.name } : r;
  }
  return {
    ok: false,
    error: new IdentityError("any source", [`no source answered: tried ${tried.join(", ")}`]),
  };
}
