import { expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { createMemoryLog } from "../log.ts";
import { createSystemClock } from "../runtime/clock.ts";
import { createPhaseRecorder } from "../runtime/phases.ts";
import { createRecordingExecFake } from "../sys/exec-fake.ts";
import { createNet } from "../sys/net.ts";
import type { BootContext } from "./boot-context.ts";
import { startDhcpRenewal } from "./dhcp-renewal.ts";

const lease = (ip: string) =>
  [
    "powernode-dhcp interface=eth0",
    `powernode-dhcp ip=${ip}`,
    "powernode-dhcp mask=24",
    "powernode-dhcp router=10.0.2.2",
    "powernode-dhcp dns=10.0.2.3",
    "powernode-dhcp lease=1",
  ].join("\n");

test("the lease is renewed; a changed address replaces the old one; failures are retried", async () => {
  const answers = [
    { exitCode: 1, stderr: "no lease" },
    { stdout: lease("10.0.2.15") },
    { stdout: lease("10.0.2.16") },
  ];
  const exec = createRecordingExecFake({ udhcpc: () => answers.shift() ?? { stdout: lease("10.0.2.16") } });
  const clock = createSystemClock();
  const log = createMemoryLog();
  const root = `/tmp/pn-dhcp-renewal-${process.pid}`;
  const ctx: BootContext = {
    root,
    exec,
    log,
    clock,
    phases: createPhaseRecorder(clock),
    mounter: { mount() {} },
    kmodLoader: () => {},
    net: createNet(exec, root),
    backoff: { initialMs: 10, maxMs: 20 },
    state: {},
  };
  const r = startDhcpRenewal(
    ctx,
    { interface: "eth0", address: "10.0.2.15", prefix: 24, router: "10.0.2.2", dns: [], leaseSeconds: 1 },
    { minDelayMs: 10 },
  );
  const end = Date.now() + 10_000;
  while (ctx.state.lease?.address !== "10.0.2.16") {
    if (Date.now() > end) throw new Error("timed out waiting for the renewed lease with a new address");
    await Bun.sleep(10);
  }
  r.stop();
  await r.done;
  rmSync(root, { recursive: true, force: true });
  const ip = exec.calls.filter((c) => c.cmd === "ip").map((c) => c.args.join(" "));
  expect(ip).toEqual(["addr replace 10.0.2.16/24 dev eth0", "addr del 10.0.2.15/24 dev eth0"]);
  expect(log.lines[0]).toMatch(
    /^powernode-agent: warn: network: DHCP renewal on eth0 failed \(udhcpc .*no lease\), retrying in 0\.0 s$/,
  );
  expect(log.lines).toContain(
    "powernode-agent: warn: network: DHCP address changed 10.0.2.15/24 -> 10.0.2.16/24",
  );
}, 30_000);
