/** Text for the console's values: states, severities, ages, sizes, digests. Pure (tested). */
import { type Timestamp, timestampDate } from "@bufbuild/protobuf/wkt";
import { Arch, NodeState, Severity } from "@powernode/proto/browser";

/** `running`, `degraded`, ... (the word shown next to every state colour). */
export function stateName(s: NodeState): string {
  return (NodeState[s] ?? "unspecified").toLowerCase();
}

export function archName(a: Arch): string {
  return a === Arch.UNSPECIFIED ? "?" : (Arch[a] ?? "?").toLowerCase();
}

/** `info`, `warn`, `error`, `critical`. */
export function severityName(s: Severity): string {
  return s === Severity.UNSPECIFIED ? "info" : (Severity[s] ?? "info").toLowerCase();
}

export function dateOf(t: Timestamp | undefined): Date | undefined {
  return t ? timestampDate(t) : undefined;
}

/** A duration in seconds, short: `42 s`, `3 min 05 s`, `2 h 10 min`, `4 d 3 h`. */
export function duration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "—";
  const s = Math.floor(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, "0")} s`;
  const hrs = Math.floor(m / 60);
  if (hrs < 48) return `${hrs} h ${String(m % 60).padStart(2, "0")} min`;
  return `${Math.floor(hrs / 24)} d ${hrs % 24} h`;
}

/** How long ago `at` was, from `now`: `5 s ago`, or `never`. */
export function age(at: Date | undefined, now: Date): string {
  if (!at) return "never";
  const s = (now.getTime() - at.getTime()) / 1000;
  return s < 0 ? "just now" : `${duration(s)} ago`;
}

/** Until `at`, from `now`: `in 89 d 23 h`, or `expired 2 h ago`. */
export function until(at: Date | undefined, now: Date): string {
  if (!at) return "—";
  const s = (at.getTime() - now.getTime()) / 1000;
  return s >= 0 ? `in ${duration(s)}` : `expired ${duration(-s)} ago`;
}

/** Bytes in binary units: `512 B`, `1.5 KiB`, `12.0 MiB`. */
export function bytes(n: number | bigint): string {
  let v = Number(n);
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}

/** The first 12 hex digits of a digest (`sha256:` dropped); the whole one goes in a title. */
export function shortDigest(d: string): string {
  const hex = d.startsWith("sha256:") ? d.slice(7) : d;
  return hex.length > 12 ? `${hex.slice(0, 12)}…` : hex || "—";
}

/** ISO time without milliseconds, UTC: `2026-12-04 23:10:05Z`. */
export function clock(d: Date | undefined): string {
  return d ? `${d.toISOString().slice(0, 19).replace("T", " ")}Z` : "—";
}
