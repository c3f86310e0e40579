/**
 * site-boot: several QEMU nodes on one lab network (the site tier's base, docs/lab.md).
 *
 *   bun smokes/site-boot.ts --tier site [--arch amd64|arm64]
 *
 * Three nodes are created at once on lab `site` (10.203.1.0/24) while the bridge is captured; each must
 * get a DHCP lease from the lab's udhcpd, reach the hub at the lab's host end and enroll; printed: the
 * seconds from the first CreateInstance to all RUNNING. Not part of `npm test` (minutes under TCG).
 */
import { join } from "node:path";
import { createExec } from "@powernode/exec";
import type { Capture } from "./lib/lab.ts";
import { definePass, runPass } from "./lib/pass.ts";
import { bootSiteNodes } from "./lib/site-nodes.ts";

const COUNT = 3;

export const siteBoot = definePass({
  id: 102,
  label: "site-boot",
  title: `${COUNT} QEMU nodes on one lab network`,
  minTier: "site",
  async run(t) {
    let capture: Capture | undefined;
    const site = await bootSiteNodes(t, {
      arch: t.args.arch,
      count: COUNT,
      beforeCreate: async (_hub, lab) => {
        capture = await lab.capture(join(t.outDir, "lab.pcap"));
      },
    });
    const { lab, nodes, hub } = site;
    t.info(`seconds to all ${COUNT} RUNNING: ${site.secondsToRunning.toFixed(1)}`);

    await t.check("every node has its own address in the lab, the one udhcpd leased to its MAC", () => {
      const leases = lab.leases();
      const prefix = lab.cidr.replace(/\.0\/24$/, ".");
      for (const n of nodes) {
        if (!n.underlayAddress.startsWith(prefix))
          throw new Error(`${n.name}: ${n.underlayAddress || "no address"}`);
        const lease = leases.find((l) => l.mac === n.mac);
        if (lease?.address !== n.underlayAddress)
          throw new Error(`${n.name}: reported ${n.underlayAddress}, leased ${lease?.address ?? "nothing"}`);
      }
      const distinct = new Set(nodes.map((n) => n.underlayAddress));
      if (distinct.size !== nodes.length) throw new Error(`addresses repeat: ${[...distinct].join(" ")}`);
      return nodes.map((n) => n.underlayAddress).join(", ");
    });

    await t.check("each serial log shows the DHCP lease on the lab and the enrollment", async () => {
      for (const n of nodes) {
        const log = await Bun.file(n.serialLog).text();
        const up = new RegExp(`network: \\S+ ${n.underlayAddress.replaceAll(".", "\\.")}/24 \\(dhcp\\)`);
        if (!/network: DHCP lease on \S+ after/.test(log) || !up.test(log))
          throw new Error(`${n.name}: no DHCP lease for ${n.underlayAddress} in ${n.serialLog}`);
        if (!log.includes(`enrolling with https://${lab.hostAddress}:`))
          throw new Error(`${n.name}: did not enroll with the hub at ${lab.hostAddress} (${n.serialLog})`);
        if (!log.includes(`enrolled: certificate CN=${n.instanceId}`))
          throw new Error(`${n.name}: no "enrolled: certificate CN=${n.instanceId}" in ${n.serialLog}`);
      }
      return `${nodes.length} logs`;
    });

    await t.check("the host reaches every node on the lab (ping)", async () => {
      const exec = createExec();
      for (const n of nodes) {
        await exec.run("/bin/busybox", ["ping", "-c", "1", "-W", "5", n.underlayAddress], {
          timeoutMs: 15_000,
        });
      }
      return `${nodes.length} answered`;
    });

    await t.check(
      "the capture shows each node's DHCP exchange and its TLS connection to the hub",
      async () => {
        if (!capture) throw new Error("no capture was started");
        const packets = await capture.stop();
        const mtlsPort = Number(new URL(hub.hub.mtlsUrl).port);
        for (const n of nodes) {
          const dhcp = packets.some((p) => p.srcMac === n.mac && p.protocol === "udp" && p.dstPort === 67);
          const tls = packets.some(
            (p) =>
              p.protocol === "tcp" &&
              p.src === n.underlayAddress &&
              p.dst === lab.hostAddress &&
              p.dstPort === mtlsPort,
          );
          if (!dhcp || !tls)
            throw new Error(`${n.name}: dhcp ${dhcp}, tcp to ${lab.hostAddress}:${mtlsPort} ${tls}`);
        }
        return `${packets.length} packets`;
      },
    );
  },
});

if (import.meta.main) await runPass(siteBoot);
