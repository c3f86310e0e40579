/**
 * Brings up lo and the first other interface (waiting for its driver), then configures it statically
 * from the identity or by DHCP, retrying DHCP with backoff until it gets a lease. Records
 * `system.network.up`.
 */
import { join } from "node:path";
import { createBackoff } from "../../runtime/backoff.ts";
import { PHASES } from "../../runtime/phases.ts";
import { listNetInterfaces } from "../../sys/net.ts";
import type { BootContext } from "../boot-context.ts";
import type { BootTask } from "../sequencer.ts";

async function waitForInterface(ctx: BootContext): Promise<string> {
  const limit = ctx.interfaceWaitMs ?? 30_000;
  const end = Date.now() + limit;
  for (;;) {
    const first = listNetInterfaces(join(ctx.root, "sys"))[0];
    if (first) return first;
    if (Date.now() > end) throw new Error(`no network interface besides lo appeared within ${limit} ms`);
    await ctx.clock.sleep(100);
  }
}

export const bringUpNetwork: BootTask = {
  name: "bringUpNetwork",
  async run(ctx) {
    await ctx.net.linkUp("lo");
    const iface = await waitForInterface(ctx);
    await ctx.net.linkUp(iface);
    const ip = ctx.state.identity?.ip;
    let network: NonNullable<BootContext["state"]["network"]>;
    if (ip) {
      ctx.prefetch?.();
      await ctx.net.setAddress(iface, ip.address, ip.prefix);
      await ctx.net.setDefaultRoute(iface, ip.gateway);
      if (ip.dns) ctx.net.writeResolvConf([ip.dns]);
      network = { interface: iface, address: `${ip.address}/${ip.prefix}`, method: "static" };
    } else {
      const backoff = createBackoff(ctx.backoff);
      for (;;) {
        try {
          const asked = performance.now();
          const pending = ctx.net.dhcp(iface);
          // udhcpc is running now: use the wait to load the session code.
          ctx.prefetch?.();
          const lease = await pending;
          ctx.log.info(
            `network: DHCP lease on ${iface} after ${((performance.now() - asked) / 1000).toFixed(2)} s`,
          );
          await ctx.net.setAddress(iface, lease.address, lease.prefix);
          if (lease.router) await ctx.net.setDefaultRoute(iface, lease.router);
          ctx.net.writeResolvConf(lease.dns);
          network = { interface: iface, address: `${lease.address}/${lease.prefix}`, method: "dhcp" };
          ctx.state.lease = lease;
          break;
        } catch (err) {
          const ms = backoff.next();
          const why = err instanceof Error ? err.message : String(err);
          ctx.log.warn(`network: DHCP on ${iface} failed (${why}), retrying in ${(ms / 1000).toFixed(1)} s`);
          await ctx.clock.sleep(ms);
        }
      }
    }
    ctx.state.network = network;
    ctx.log.info(`network: ${network.interface} ${network.address} (${network.method})`);
    ctx.phases.record(PHASES.networkUp, { payload: { ...network } });
  },
};
