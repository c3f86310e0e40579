/** Command-line options shared by every pass: `bun smokes/passN.ts --tier db|single|site|full ...`. */

export const TIERS = ["db", "single", "site", "full"] as const;
export type Tier = (typeof TIERS)[number];
export const SITES = ["a", "b"] as const;
export type Site = (typeof SITES)[number];
/** Passes made of numbered phases (pass 9) have at most this many. */
export const MAX_PHASE = 8;

export interface PassArgs {
  tier: Tier;
  arch: "amd64" | "arm64";
  /** Start over: ignore and rewrite the state sidecar. */
  fresh: boolean;
  /** Keep VMs, hubs and temp dirs after the pass (for debugging). */
  keep: boolean;
  /** Exit 0 when something the machine lacks (a k3s binary, say) stops a check; never silently. */
  allowMissing: boolean;
  /** Phased passes (pass 9): run only this phase (1-8), reading what it needs from the sidecar. */
  phase: number | undefined;
  /** Phased passes (pass 9): the site the phases act on. */
  site: Site;
}

/** Parses argv; throws an Error naming the bad option. */
export function parsePassArgs(argv: readonly string[]): PassArgs {
  const out: PassArgs = {
    tier: "db",
    arch: "amd64",
    fresh: false,
    keep: false,
    allowMissing: false,
    phase: undefined,
    site: "a",
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    switch (a) {
      case "--tier": {
        const v = value();
        if (!(TIERS as readonly string[]).includes(v))
          throw new Error(`--tier must be one of ${TIERS.join("|")}, got "${v}"`);
        out.tier = v as Tier;
        break;
      }
      case "--arch": {
        const v = value();
        if (v !== "amd64" && v !== "arm64") throw new Error(`--arch must be amd64 or arm64, got "${v}"`);
        out.arch = v;
        break;
      }
      case "--phase": {
        const v = value();
        const n = Number(v);
        if (!/^[0-9]+$/.test(v) || n < 1 || n > MAX_PHASE)
          throw new Error(`--phase must be a number from 1 to ${MAX_PHASE}, got "${v}"`);
        out.phase = n;
        break;
      }
      case "--site": {
        const v = value();
        if (!(SITES as readonly string[]).includes(v))
          throw new Error(`--site must be one of ${SITES.join("|")}, got "${v}"`);
        out.site = v as Site;
        break;
      }
      case "--fresh":
        out.fresh = true;
        break;
      case "--keep":
        out.keep = true;
        break;
      case "--allow-missing":
        out.allowMissing = true;
        break;
      default:
        throw new Error(
          `unknown option "${a}" (options: --tier, --arch, --fresh, --keep, --allow-missing, --phase, --site)`,
        );
    }
  }
  return out;
}

/** True when `have` is at least `need` in the order db < single < site < full. */
export function tierAtLeast(have: Tier, need: Tier): boolean {
  return TIERS.indexOf(have) >= TIERS.indexOf(need);
}
