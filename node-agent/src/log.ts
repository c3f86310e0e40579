/**
 * The agent's logger. Lines go to a sink (the console + /dev/kmsg on a node, stderr in dev mode, memory
 * in tests) as `powernode-agent: <message>`, errors and warnings marked.
 */

export type LogLevel = "info" | "warn" | "error";

/** Receives finished lines (already prefixed). */
export type LogSink = (level: LogLevel, line: string) => void;

export interface Log {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export const LOG_PREFIX = "powernode-agent:";

/** A logger over a sink. */
export function createLog(sink: LogSink): Log {
  const emit = (level: LogLevel, msg: string) =>
    sink(level, `${LOG_PREFIX} ${level === "info" ? "" : `${level}: `}${msg}`);
  return {
    info: (m) => emit("info", m),
    warn: (m) => emit("warn", m),
    error: (m) => emit("error", m),
  };
}

/** A sink writing to stderr (dev mode). */
export const stderrSink: LogSink = (_level, line) => {
  process.stderr.write(`${line}\n`);
};

export interface MemoryLog extends Log {
  readonly lines: string[];
}

/** A logger that keeps its lines (tests), optionally also forwarding them. */
export function createMemoryLog(forward?: LogSink): MemoryLog {
  const lines: string[] = [];
  const log = createLog((level, line) => {
    lines.push(line);
    forward?.(level, line);
  });
  return { ...log, lines };
}
