/**
 * A per-directory build lock, so two builds of the same arch (a smoke and a developer, say) do not
 * write the same work files at once. The lock file holds the owner's pid; a lock whose pid is gone
 * is stale and taken over.
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { dirname } from "node:path";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

function tryTake(path: string): boolean {
  try {
    const fd = openSync(path, "wx", 0o644);
    writeSync(fd, String(process.pid));
    closeSync(fd);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    const owner = Number(readFileSync(path, "utf8").trim());
    if (Number.isInteger(owner) && owner > 0 && alive(owner)) return false;
    rmSync(path, { force: true }); // stale: its builder died
    return false;
  }
}

/**
 * Runs fn holding the lock at path; waits (up to timeoutMs) while another live process holds it.
 * `onWait` is called once when it has to wait.
 */
export async function withLock<T>(
  path: string,
  timeoutMs: number,
  onWait: (owner: string) => void,
  fn: () => Promise<T>,
): Promise<T> {
  mkdirSync(dirname(path), { recursive: true });
  const deadline = Date.now() + timeoutMs;
  let told = false;
  while (!tryTake(path)) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for the build lock ${path}`);
    if (!told) {
      told = true;
      let owner = "?";
      try {
        owner = readFileSync(path, "utf8").trim();
      } catch {
        // released between the two reads
      }
      onWait(owner);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  try {
    return await fn();
  } finally {
    rmSync(path, { force: true });
  }
}
