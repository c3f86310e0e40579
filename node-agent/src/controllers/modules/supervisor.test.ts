import { expect, test } from "bun:test";
import { createRecordingModuleSysFake } from "../../../test/module-sys-fake.ts";
import { createMemoryLog } from "../../log.ts";
import { startSupervisor } from "./supervisor.ts";

async function until(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(5);
  }
}

test("services run chrooted, output prefixed, restarted with doubling backoff; policies never/on-failure", async () => {
  const sys = createRecordingModuleSysFake();
  const log = createMemoryLog();
  const sup = startSupervisor(
    "/sysroot",
    [
      { module: "web", service: { name: "httpd", exec: ["/bin/httpd", "-f"] } },
      { module: "web", service: { name: "once", exec: ["/bin/true"], restart: "never" } },
      { module: "db", service: { name: "job", exec: ["/bin/job"], restart: "on-failure" } },
    ],
    { sys, log, backoff: { initialMs: 10, maxMs: 40, resetAfterMs: 60_000 } },
  );
  expect(sys.calls).toEqual([
    "spawn /sysroot /bin/httpd -f",
    "spawn /sysroot /bin/true",
    "spawn /sysroot /bin/job",
  ]);
  const [httpd, once, job] = sys.services;
  once?.proc.exit(0);
  job?.proc.exit(0);
  httpd?.proc.exit(1);
  await until("httpd restarted", () => sys.services.length === 4);
  sys.services[3]?.proc.exit(2);
  await until("httpd restarted again", () => sys.services.length === 5);
  expect(sys.services.slice(3).every((s) => s.argv[0] === "/bin/httpd")).toBe(true);
  expect(log.lines).toContain("powernode-agent: warn: service web/httpd exited (1); restarting in 0.0 s");
  expect(log.lines).toContain(
    "powernode-agent: service web/once exited (0); restart policy never: not restarting",
  );
  expect(log.lines).toContain(
    "powernode-agent: service db/job exited (0); restart policy on-failure: not restarting",
  );
  expect(sup.status().find((s) => s.id === "web/httpd")).toMatchObject({ restarts: 2, lastExit: 2 });
  await sup.stop(100);
  expect(await sys.services[4]?.proc.exited).toBe(143);
  expect(sys.services).toHaveLength(5);
});
