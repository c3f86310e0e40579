/**
 * Claim mode (a node with no identity, `powernode.claim_url` on the cmdline): reports this machine's
 * facts to the hub, prints the claim code on the console, polls until an operator confirms, then
 * continues the boot with the identity the hub returned (enrollment follows in the session).
 */
import { claimIdentity, createDeviceClaimClient } from "../../claim/claim-client.ts";
import { readDeviceFacts } from "../../sys/device-facts.ts";
import { AGENT_VERSION } from "../../version.ts";
import type { BootTask } from "../sequencer.ts";

/** The console line an operator (and the single-tier smoke) reads the code from. */
export const CLAIM_CODE_LINE = "claim code:";

export const claimNodeIdentity: BootTask = {
  name: "claimIdentity",
  async run(ctx) {
    const target = ctx.state.claim;
    if (ctx.state.identity || !target) return;
    const facts = readDeviceFacts(ctx.root, process.arch === "arm64" ? "arm64" : "amd64");
    ctx.log.info(
      `claim: reporting ${facts.macs.join(", ") || "no MAC"}, ${facts.platformHint}, ${facts.cpus} CPUs, ${facts.memoryMib} MiB to ${target.url}`,
    );
    const identity = await claimIdentity({
      target,
      client: createDeviceClaimClient(target),
      facts,
      agentVersion: AGENT_VERSION,
      log: ctx.log,
      clock: ctx.clock,
      announce: (code, expires) =>
        ctx.log.info(
          `${CLAIM_CODE_LINE} ${code} (confirm with: pnctl claims confirm ${code} --template <t>${expires ? `; expires ${expires.toISOString()}` : ""})`,
        ),
    });
    ctx.state.identity = identity;
    ctx.state.identitySource = "claim";
  },
};
