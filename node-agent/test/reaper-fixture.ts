/**
 * Run by sys/reaper.test.ts in its own process: becomes a child subreaper (so orphans are reparented to
 * it as they would be to PID 1), orphans a grandchild, shows the zombie stays without a reaper, then
 * starts the real reaper and shows the zombie count goes back to 0 while its own children keep their
 * exit codes. Prints one JSON line per step.
 */
import { createExeca, ExecError } from "../src/sys/exec.ts";
import { setChildSubreaper } from "../src/sys/libc.ts";
import { listZombies } from "../src/sys/proc.ts";
import { startReaper } from "../src/sys/reaper.ts";

const say = (o: object) => console.log(JSON.stringify(o));
const zombies = () => listZombies("/proc", process.pid);

async function until(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(10);
  }
}

setChildSubreaper();
const owned = new Set<number>();
const exec = createExeca(owned);
// sh exits at once; its background sleep is orphaned, reparented to us, and exits 0.1 s later.
const r = await exec.run("sh", ["-c", "sleep 0.1 & echo $!"]);
const grandchild = Number(r.stdout.trim());
await until("the orphaned grandchild to become a zombie", () => zombies().some((z) => z.pid === grandchild));
say({ step: "zombie", pid: grandchild, zombies: zombies().length });

const reaper = startReaper({ intervalMs: 20 });
for (const p of owned) reaper.owned.add(p);
const exec2 = createExeca(reaper.owned);
await until("the reaper to clear zombies", () => zombies().length === 0);
say({ step: "reaped", reaped: reaper.reaped(), zombies: zombies().length });

// Our own children are left to Bun: their exit codes still come through while the reaper runs.
let code: number | undefined;
try {
  await exec2.run("sh", ["-c", "exit 3"]);
} catch (err) {
  if (err instanceof ExecError) code = err.exitCode;
}
const ok = await exec2.run("sh", ["-c", "echo fine"]);
say({ step: "own-children", exitCode: code, stdout: ok.stdout.trim(), zombies: zombies().length });
reaper.stop();
