/**
 * What PID 1 does when the boot cannot go on. It must not exit (the kernel would panic and the reason
 * would scroll away): it prints the error, with every listed problem, on the console and kmsg, then
 * stays up (reaping zombies) and repeats the message every minute so a late-attached console sees it.
 * With `powernode.panic=reboot` on the kernel command line it reboots after 10 s instead.
 */
import type { Log } from "../log.ts";
import type { Exec } from "../sys/exec.ts";

/** The lines panic prints for an error: its message, then every problem listed by its causes. */
export function describePanic(err: unknown): string[] {
  const lines = [err instanceof Error ? err.message : String(err)];
  for (let c = err instanceof Error ? err.cause : undefined; c !== undefined; ) {
    const problems = (c as { problems?: unknown }).problems;
    if (Array.isArray(problems)) lines.push(...problems.map((p) => `  - ${String(p)}`));
    c = c instanceof Error ? c.cause : undefined;
  }
  return lines;
}

/** Reports a fatal boot error and never returns. */
export async function panic(err: unknown, log: Log, opts: { exec: Exec; reboot: boolean }): Promise<never> {
  const say = () => {
    log.error("FATAL: the node cannot finish booting:");
    for (const l of describePanic(err)) log.error(l);
    log.error(
      opts.reboot
        ? "rebooting in 10 s (powernode.panic=reboot)"
        : "halted; the agent stays up (fix the cause and reboot)",
    );
  };
  say();
  if (opts.reboot) {
    await new Promise((r) => setTimeout(r, 10_000));
    try {
      await opts.exec.run("reboot", ["-f"], { timeoutMs: 10_000 });
    } catch (e) {
      log.error(`reboot failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  setInterval(say, 60_000);
  return new Promise<never>(() => {});
}
