/**
 * The PID 1 log sink: every line goes to /dev/console (synchronously, so a panic's last words are not
 * lost in a buffer) and to /dev/kmsg. kmsg records are written at debug level (7) so the kernel does
 * not echo them onto the console a second time under the default loglevel; errors use level 3.
 * The kernel rate-limits /dev/kmsg writers (10 lines per 5 s by default); {@link allowKmsgWrites} lifts
 * that unless the cmdline locked it. The console copy is the complete one either way.
 */
import { constants, openSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { LogLevel, LogSink } from "../log.ts";

function tryOpen(path: string): number | undefined {
  try {
    // Never O_CREAT: before devtmpfs is mounted, "w" would create a plain file /dev/kmsg in the
    // initramfs and every later record would go there instead of to the kernel.
    return openSync(path, constants.O_WRONLY | constants.O_NOCTTY);
  } catch {
    // Not there (before devtmpfs, or no such device): the caller falls back.
    return undefined;
  }
}

/** A sink over <devRoot>/console and <devRoot>/kmsg; falls back to stdout when there is no console. */
export function createConsoleSink(devRoot = "/dev"): LogSink {
  let consoleFd: number | undefined;
  let kmsgFd: number | undefined;
  let opened = false;
  return (level: LogLevel, line: string) => {
    if (!opened) consoleFd = tryOpen(join(devRoot, "console"));
    opened = true;
    // /dev/kmsg appears only once devtmpfs is mounted: keep trying until then.
    kmsgFd ??= tryOpen(join(devRoot, "kmsg"));
    try {
      writeSync(consoleFd ?? 1, `${line}\n`);
    } catch {
      // Nowhere to write the console copy; kmsg below may still take it.
    }
    if (kmsgFd !== undefined) {
      try {
        writeSync(kmsgFd, `<${level === "error" ? 3 : 7}>${line}`);
      } catch {
        // Rate-limited or too long: the console copy above is the complete log.
      }
    }
  };
}

/**
 * Lets PID 1 write to /dev/kmsg without the default rate limit (`printk.devkmsg=on`). Returns false
 * when the setting is locked by `printk.devkmsg=` on the kernel cmdline or /proc is missing.
 */
export function allowKmsgWrites(procRoot = "/proc"): boolean {
  try {
    writeFileSync(join(procRoot, "sys/kernel/printk_devkmsg"), "on\n");
    return true;
  } catch {
    // Locked (EINVAL) or absent: the rate-limited kmsg copy is a convenience, the console has it all.
    return false;
  }
}
