/**
 * The hub's structured logger: one JSON line per record on stderr, with a `component` field.
 */

/** Log levels in increasing severity. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** A structured logger; `child` adds fields to every record. */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

function describe(v: unknown): unknown {
  if (v instanceof Error) {
    return { message: v.message, name: v.name, cause: v.cause === undefined ? undefined : describe(v.cause) };
  }
  return v;
}

/** Creates a logger writing to `sink` (stderr by default), dropping records below `level`. */
export function createLogger(
  opts: { level?: LogLevel; fields?: Record<string, unknown>; sink?: (line: string) => void } = {},
): Logger {
  const min = ORDER[opts.level ?? "info"];
  const base = opts.fields ?? {};
  const sink = opts.sink ?? ((line: string) => process.stderr.write(`${line}\n`));
  const write = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (ORDER[level] < min) return;
    const rec: Record<string, unknown> = { t: new Date().toISOString(), level, msg, ...base };
    for (const [k, v] of Object.entries(fields ?? {})) rec[k] = describe(v);
    sink(JSON.stringify(rec));
  };
  return {
    debug: (m, f) => write("debug", m, f),
    info: (m, f) => write("info", m, f),
    warn: (m, f) => write("warn", m, f),
    error: (m, f) => write("error", m, f),
    child: (fields) => createLogger({ level: opts.level, fields: { ...base, ...fields }, sink }),
  };
}
