/**
 * Reading the kernel log (/dev/kmsg) for boot timings: the record "Run /init as init process" carries
 * the kernel's own timestamp of the handover to userspace (the moment `system.kernel.booted` marks).
 * /proc/1/stat's start time cannot serve: PID 1 is the kernel_init thread, started long before the exec.
 */
import { closeSync, constants, openSync, readSync } from "node:fs";
import { join } from "node:path";

/** One /dev/kmsg record: `prio,seq,usec,flags;message`. */
export interface KmsgRecord {
  seq: number;
  /** Microseconds since boot (CLOCK_MONOTONIC at record time). */
  usec: number;
  message: string;
}

/** Parses one record as read(2) returns it; continuation lines (" KEY=value") are dropped. */
export function parseKmsgRecord(text: string): KmsgRecord | undefined {
  const semi = text.indexOf(";");
  if (semi < 0) return undefined;
  const [, seq, usec] = text.slice(0, semi).split(",");
  const message = text.slice(semi + 1).split("\n")[0] ?? "";
  const s = Number(seq);
  const u = Number(usec);
  if (!Number.isFinite(s) || !Number.isFinite(u)) return undefined;
  return { seq: s, usec: u, message };
}

/** Reads the records now in the kernel log buffer (non-blocking; each read(2) returns one record). */
export function readKmsg(devRoot = "/dev", maxRecords = 20_000): KmsgRecord[] {
  const out: KmsgRecord[] = [];
  let fd: number;
  try {
    fd = openSync(join(devRoot, "kmsg"), constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    return out;
  }
  const buf = Buffer.alloc(8192);
  try {
    for (let i = 0; i < maxRecords; i++) {
      let n: number;
      try {
        n = readSync(fd, buf, 0, buf.length, null);
      } catch (err) {
        // EAGAIN: the buffer is drained. EPIPE: a record was overwritten while reading; skip it.
        if ((err as { code?: string }).code === "EPIPE") continue;
        break;
      }
      if (n <= 0) break;
      const r = parseKmsgRecord(buf.subarray(0, n).toString("utf8"));
      if (r) out.push(r);
    }
  } finally {
    closeSync(fd);
  }
  return out;
}

/** Seconds since boot at which the kernel started /init, if the kernel log still has that record. */
export function kernelHandoverSeconds(devRoot = "/dev"): number | undefined {
  const r = readKmsg(devRoot).find((x) => /^Run \S+ as init process/.test(x.message));
  return r === undefined ? undefined : r.usec / 1e6;
}
