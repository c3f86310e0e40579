/**
 * The live half of a phase (VMs, k3s, kubectl, tcpdump) above the db tier. Pass 9 runs the db contract
 * at every tier; the live checks are not written yet, so each one says what is missing and fails,
 * unless --allow-missing (then a line says it was not run). Never a silent pass.
 */
import { K3S_BINARY_ENV } from "../../hub/src/modules/k3s-module.ts";
import { type Tier, tierAtLeast } from "../lib/args.ts";
import type { PassContext } from "../lib/pass.ts";
import { MISSING_K3S } from "../pass2/k3s-single-tier.ts";

const NOT_WRITTEN = "pass 9's live checks are not written yet (smokes/pass9/live.ts)";

/** Fails (or with --allow-missing notes) each of `names` when the tier is at least `from`. */
export async function liveChecks(t: PassContext, from: Tier, names: readonly string[]): Promise<void> {
  if (!tierAtLeast(t.args.tier, from)) return;
  const why = process.env[K3S_BINARY_ENV] ? `missing: ${NOT_WRITTEN}` : `${MISSING_K3S}; ${NOT_WRITTEN}`;
  for (const name of names) {
    if (t.args.allowMissing) t.info(`${why}: not run (--allow-missing): ${name}`);
    else
      await t.check(name, () => {
        throw new Error(why);
      });
  }
}
