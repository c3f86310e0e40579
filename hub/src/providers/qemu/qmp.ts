/**
 * A small QMP client (QEMU Machine Protocol, docs/interop/qmp-spec.rst): connect to the unix
 * socket, read the greeting, negotiate `qmp_capabilities`, then `execute` commands with ids.
 * Asynchronous events are collected, never mistaken for replies.
 */
import { createConnection, type Socket } from "node:net";

/** An error reply from QEMU ({"error": {"class", "desc"}}). */
export class QmpError extends Error {
  constructor(
    readonly command: string,
    readonly errorClass: string,
    desc: string,
  ) {
    super(`qmp ${command}: ${errorClass}: ${desc}`);
    this.name = "QmpError";
  }
}

/** What `query-status` returns. */
export interface QmpStatus {
  running: boolean;
  status: string;
}

export interface QmpClient {
  execute(command: string, args?: Record<string, unknown>, timeoutMs?: number): Promise<unknown>;
  queryStatus(): Promise<QmpStatus>;
  /** ACPI power button: the guest decides whether to shut down. */
  systemPowerdown(): Promise<void>;
  systemReset(): Promise<void>;
  /** Ends QEMU at once; the socket closes as QEMU exits. */
  quit(): Promise<void>;
  /** Events received so far (e.g. SHUTDOWN, POWERDOWN). */
  readonly events: { event: string; data?: unknown }[];
  close(): void;
}

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void; command: string };

/**
 * Connects and negotiates capabilities; rejects after timeoutMs naming the socket.
 * @example const qmp = await connectQmp("/run/vm/qmp.sock"); await qmp.queryStatus(); qmp.close();
 */
export async function connectQmp(path: string, timeoutMs = 5_000): Promise<QmpClient> {
  const sock: Socket = createConnection({ path });
  const pending = new Map<number, Pending>();
  const events: { event: string; data?: unknown }[] = [];
  let nextId = 1;
  let buf = "";
  let closedErr: Error | undefined;
  let greeted: (() => void) | undefined;
  let greetFail: ((e: Error) => void) | undefined;

  const failAll = (e: Error) => {
    closedErr = e;
    for (const p of pending.values()) p.reject(e);
    pending.clear();
    greetFail?.(e);
  };
  sock.setEncoding("utf8");
  sock.on("data", (chunk: string) => {
    buf += chunk;
    for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (line === "") continue;
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue; // QMP speaks JSON only; a torn line cannot be attributed to any request
      }
      if ("QMP" in msg) greeted?.();
      else if (typeof msg.event === "string") events.push({ event: msg.event, data: msg.data });
      else if (typeof msg.id === "number") {
        const p = pending.get(msg.id);
        pending.delete(msg.id);
        const err = msg.error as { class?: string; desc?: string } | undefined;
        if (err) p?.reject(new QmpError(p.command, err.class ?? "GenericError", err.desc ?? ""));
        else p?.resolve(msg.return);
      }
    }
  });
  sock.on("error", (e) => failAll(new Error(`qmp ${path}: ${e.message}`, { cause: e })));
  sock.on("close", () => failAll(new Error(`qmp ${path}: connection closed`)));

  const withTimeout = <T>(p: Promise<T>, ms: number, what: string): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`qmp ${path}: no answer to ${what} within ${ms} ms`)), ms);
      p.then(
        (v) => {
          clearTimeout(t);
          resolve(v);
        },
        (e: unknown) => {
          clearTimeout(t);
          reject(e);
        },
      );
    });

  const execute = (command: string, args?: Record<string, unknown>, ms = timeoutMs): Promise<unknown> => {
    if (closedErr) return Promise.reject(closedErr);
    const id = nextId++;
    const p = new Promise<unknown>((resolve, reject) => pending.set(id, { resolve, reject, command }));
    sock.write(`${JSON.stringify({ execute: command, ...(args ? { arguments: args } : {}), id })}\n`);
    return withTimeout(p, ms, command);
  };

  try {
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        greeted = resolve;
        greetFail = reject;
      }),
      timeoutMs,
      "the greeting",
    );
    await execute("qmp_capabilities");
  } catch (e) {
    sock.destroy();
    throw e;
  }

  return {
    execute,
    events,
    async queryStatus() {
      const r = (await execute("query-status")) as { running?: boolean; status?: string };
      return { running: r.running === true, status: r.status ?? "unknown" };
    },
    async systemPowerdown() {
      await execute("system_powerdown");
    },
    async systemReset() {
      await execute("system_reset");
    },
    async quit() {
      try {
        await execute("quit");
      } catch (e) {
        // QEMU may close the socket before its reply arrives; that is the quit succeeding.
        if (!/connection closed/.test((e as Error).message)) throw e;
      }
    },
    close() {
      sock.destroy();
    },
  };
}
