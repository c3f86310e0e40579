/**
 * The console's Claims view in Chromium: two machines in claim mode (reported through the hub's TLS
 * listener as the agent does) appear live with their codes; one is confirmed from the page (the
 * dialog offers the template) and its poll then says claimed with a bootstrap token; the other is
 * rejected with a reason, which its poll then reports.
 */

import { Arch, ClaimStatus } from "@powernode/proto";
import type { Page } from "playwright-core";
import { createDeviceClaimClient } from "../../node-agent/src/claim/claim-client.ts";
import type { PassContext } from "../lib/pass.ts";
import { badgesSpeak, shoot, tabThrough } from "./browser.ts";
import type { Fixture } from "./fixture.ts";

export async function claimsChecks(t: PassContext, page: Page, f: Fixture, shots: string[]): Promise<void> {
  const { hub } = f.s;
  const device = createDeviceClaimClient({ url: hub.mtlsUrl, caPem: hub.caPem });
  const discover = (n: number) =>
    device.discoverDevice({
      facts: {
        // amd64: the template the dialog offers has amd64 module versions only.
        macs: [`52:54:00:00:0c:0${n}`],
        dmiUuid: crypto.randomUUID(),
        serial: "",
        arch: Arch.AMD64,
        platformHint: "qemu",
        model: "Standard PC (Q35 + ICH9, 2009)",
        cpus: 2,
        memoryMib: 2048,
        agentVersion: "console-smoke",
      },
    });

  await page.click('[data-nav="claims"]');
  await page.waitForSelector("section h2", { timeout: 10_000 });
  const a = await discover(1);
  const b = await discover(2);
  await t.check(
    "Claims: machines that report themselves appear live with code, MAC, platform, expiry",
    async () => {
      for (const code of [a.claimCode, b.claimCode])
        await page.waitForSelector(`table[aria-label="claims"] [data-claim="${code}"]`, { timeout: 10_000 });
      const rows = await page.$$eval('table[aria-label="claims"] tbody tr', (trs) =>
        trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent ?? "")),
      );
      const rowA = rows.find((r) => r[0] === a.claimCode);
      if (
        !rowA?.[2]?.includes("52:54:00:00:0c:01") ||
        !rowA[4]?.includes("qemu") ||
        !/\d/.test(rowA[8] ?? "")
      )
        throw new Error(`row ${JSON.stringify(rowA)}`);
      return `${rows.length} waiting: ${rows.map((r) => r[0]).join(", ")}; expires "${rowA[8]}"`;
    },
  );
  await t.check("Claims: Tab reaches Confirm and Reject of each machine", () =>
    tabThrough(page, ["confirm-claim", "reject-claim"]),
  );
  await t.check("Claims: every badge carries its word", () => badgesSpeak(page));
  await t.check("Claims screenshot is not blank", () => shoot(t, page, "claims", shots));

  await t.check(
    "Claims: Confirm asks with the template offered; the machine's poll then has its identity",
    async () => {
      await page.click(`[data-action="confirm-claim"][data-code="${a.claimCode}"]`);
      await page.waitForSelector("dialog[open]", { timeout: 5000 });
      const offered = await page.inputValue("#dialog-field");
      if (offered !== "web") throw new Error(`template field "${offered}"`);
      await page.click('dialog [data-action="confirm"]');
      const link = await page.waitForSelector("[data-claimed]", { timeout: 10_000 });
      const instanceId = (await link.getAttribute("data-claimed")) ?? "";
      const poll = await device.pollClaim({ deviceId: a.deviceId, pollSecret: a.pollSecret });
      if (
        poll.status !== ClaimStatus.CLAIMED ||
        poll.instanceUuid !== instanceId ||
        poll.bootstrapToken.length < 32
      )
        throw new Error(`poll ${ClaimStatus[poll.status]} ${poll.instanceUuid}`);
      await page.waitForSelector(`[data-claim="${a.claimCode}"]`, { state: "detached", timeout: 10_000 });
      const inst = await f.s.provision.getInstance({ id: instanceId });
      return `instance ${inst.instance?.name} (${instanceId.slice(0, 8)}), template ${inst.instance?.template || "-"}; poll: claimed with a ${poll.bootstrapToken.length}-char token`;
    },
  );

  await t.check(
    "Claims: Reject asks for a reason; the machine's poll then says rejected with it",
    async () => {
      await page.click(`[data-action="reject-claim"][data-code="${b.claimCode}"]`);
      await page.waitForSelector("dialog[open]", { timeout: 5000 });
      await page.fill("#dialog-field", "not one of ours");
      await page.click('dialog [data-action="confirm"]');
      await page.waitForSelector(`[data-claim="${b.claimCode}"]`, { state: "detached", timeout: 10_000 });
      const poll = await device.pollClaim({ deviceId: b.deviceId, pollSecret: b.pollSecret });
      if (poll.status !== ClaimStatus.REJECTED || poll.rejectReason !== "not one of ours")
        throw new Error(`poll ${ClaimStatus[poll.status]} "${poll.rejectReason}"`);
      return `poll: rejected ("${poll.rejectReason}")`;
    },
  );
}
