/**
 * The PID 1 log sink: every line goes to /dev/console (synchronously, so a panic's last words are not
 * lost in a buffer) and to /dev/kmsg. kmsg records are written at debug level (7) so the kernel does
 * not echo them onto the console a second time under the default loglevel; errors use level 3.
 * The kernel rate-limits /dev/kmsg writers (printk.devkmsg=ratelimit): the console copy is the full one.
 */
import { openSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { LogLevel, LogSink } from "../log.ts";

function tryOpen(path: string): number | undefined {
  try {
    return openSync(path, "w");
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
