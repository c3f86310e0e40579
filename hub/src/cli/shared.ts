/**
 * What every pnctl command group shares: the output sink, the hub's clients (the token resolved once),
 * `--json` or table output, and errors phrased for the user.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { DescService } from "@bufbuild/protobuf";
import { type Timestamp, timestampDate } from "@bufbuild/protobuf/wkt";
import {
  type Client,
  Code,
  ConnectError,
  createClient,
  type Interceptor,
  type Transport,
} from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { Arch, NodeState, Severity } from "@powernode/proto";
import { flag, type ParsedArgs } from "./args.ts";

/** Where output goes (stdout/stderr in the real program, buffers in tests). */
export interface CliIo {
  out(line: string): void;
  err(line: string): void;
}

/** A failure already phrased for the user (exit 1). */
export class CliError extends Error {}
/** Wrong arguments (exit 2). */
export class UsageError extends Error {}

/** What a command runs with. */
export interface CommandContext {
  verb: string | undefined;
  /** Positionals after the verb. */
  rest: string[];
  args: ParsedArgs;
  env: Record<string, string | undefined>;
  io: CliIo;
  signal?: AbortSignal;
  /** The hub's operator API URL (--url, $POWERNODE_URL, default https://127.0.0.1:8080). */
  url: string;
  /**
   * The CA (PEM) the hub's certificate is checked against (--hub-ca FILE, $POWERNODE_CA_FILE, else
   * $POWERNODE_DATA/ca.pem when it exists); undefined: the system's trust store (an ACME certificate).
   */
  ca(): string | undefined;
  json: boolean;
  /** A client of one service, with the operator token (resolved on first use). */
  client<S extends DescService>(service: S): Client<S>;
  /** The operator token (--token, $POWERNODE_TOKEN, $POWERNODE_DATA/admin.token). */
  token(): string;
  /** Prints `value` as JSON with --json, else `lines()`. */
  print(value: unknown, lines: () => string[]): void;
}

/** One group of commands (`nodes`, `events`, ...). */
export interface CommandGroup {
  name: string;
  /** Usage lines, indented two spaces. */
  usage: string;
  run(ctx: CommandContext): Promise<number>;
}

export function resolveToken(args: ParsedArgs, env: Record<string, string | undefined>): string {
  const explicit = flag(args, "token") ?? env.POWERNODE_TOKEN;
  if (explicit) return explicit;
  const file = join(env.POWERNODE_DATA || "./var", "admin.token");
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  throw new CliError(
    `no operator token: pass --token, set POWERNODE_TOKEN, or run on the hub host (${file})`,
  );
}

/** The CA file to trust for an https:// hub URL, read (see {@link CommandContext.ca}). */
export function resolveCa(
  args: ParsedArgs,
  env: Record<string, string | undefined>,
  url: string,
): string | undefined {
  if (!url.startsWith("https://")) return undefined;
  const explicit = flag(args, "hub-ca") ?? env.POWERNODE_CA_FILE;
  const file = explicit || join(env.POWERNODE_DATA || "./var", "ca.pem");
  if (!explicit && !existsSync(file)) return undefined;
  try {
    const pem = readFileSync(file, "utf8");
    if (!pem.includes("-----BEGIN CERTIFICATE-----"))
      throw new CliError(`--hub-ca ${file}: not a PEM certificate`);
    return pem;
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(
      `--hub-ca ${file}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`,
    );
  }
}

/** Socket-level TLS failures: the hub's certificate is not trusted, or the wrong scheme. */
const UNTRUSTED = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_SIGNATURE_FAILURE",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

/** One line for any failure: usage, phrased errors, hub refusals, unreachable hubs. */
export function describeError(e: unknown, url: string): string {
  if (e instanceof CliError || e instanceof UsageError) return e.message;
  if (!(e instanceof ConnectError) && e instanceof Error && !(e as { code?: unknown }).code) {
    if (!/ECONNREFUSED|Unable to connect|connection refused/i.test(e.message)) return e.message;
  }
  const ce = ConnectError.from(e);
  if (ce.code === Code.Unauthenticated) return `hub at ${url} rejected the token: ${ce.rawMessage}`;
  if (ce.code === Code.PermissionDenied) return `hub at ${url} refused: ${ce.rawMessage}`;
  // Network failures surface as Unavailable/Unknown with the socket error somewhere in the cause chain.
  for (let c: unknown = e; c; c = (c as { cause?: unknown }).cause) {
    const code = (c as { code?: unknown }).code;
    if (code === "ECONNREFUSED" || code === "ConnectionRefused")
      return `cannot reach hub at ${url}: connection refused`;
    if (code === "ENOTFOUND") return `cannot reach hub at ${url}: host not found`;
    if (code === "ETIMEDOUT") return `cannot reach hub at ${url}: timed out`;
    if (typeof code === "string" && UNTRUSTED.has(code))
      return `hub at ${url}: its certificate is not trusted (${code}); pass --hub-ca <hub data dir>/ca.pem or set POWERNODE_CA_FILE (docs/certs.md)`;
    if ((code === "ECONNRESET" || code === "EPROTO") && url.startsWith("http://"))
      return `hub at ${url} closed the connection: the operator listener speaks HTTPS by default, use https://`;
  }
  if (
    ce.code === Code.Unavailable ||
    /ECONNREFUSED|Unable to connect|connection refused/i.test(ce.rawMessage)
  ) {
    return `cannot reach hub at ${url}: connection refused`;
  }
  return `${Code[ce.code] ?? "error"}: ${ce.rawMessage}`;
}

/** Builds the context of one invocation. */
export function commandContext(
  o: Pick<CommandContext, "verb" | "rest" | "args" | "env" | "io" | "signal">,
): CommandContext {
  const url = (flag(o.args, "url") ?? o.env.POWERNODE_URL ?? "https://127.0.0.1:8080").replace(/\/$/, "");
  const json = o.args.flags.has("json");
  let token: string | undefined;
  const getToken = () => {
    token ??= resolveToken(o.args, o.env);
    return token;
  };
  const auth: Interceptor = (next) => (req) => {
    req.header.set("authorization", `Bearer ${getToken()}`);
    return next(req);
  };
  let ca: { pem: string | undefined } | undefined;
  const getCa = () => {
    ca ??= { pem: resolveCa(o.args, o.env, url) };
    return ca.pem;
  };
  // The transport is made on first use, so a bad --hub-ca is reported by the command that needs it.
  let transport: ReturnType<typeof createConnectTransport> | undefined;
  const getTransport = () => {
    const pem = getCa();
    transport ??= createConnectTransport({
      baseUrl: url,
      httpVersion: "1.1",
      interceptors: [auth],
      ...(pem ? { nodeOptions: { ca: pem } } : {}),
    });
    return transport;
  };
  return {
    ...o,
    url,
    ca: getCa,
    json,
    client: (service) => createClient(service, lazyTransport(getTransport)),
    token: getToken,
    print(value, lines) {
      if (json) o.io.out(JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? v.toString() : v), 2));
      else for (const l of lines()) o.io.out(l);
    },
  };
}

/** A transport that builds the real one when the first call goes out. */
function lazyTransport(make: () => Transport): Transport {
  return {
    unary: (...a) => make().unary(...a),
    stream: (...a) => make().stream(...a),
  };
}

/** Aligned columns (the last one unpadded). */
export function table(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const r of rows) {
    r.forEach((c, i) => {
      widths[i] = Math.max(widths[i] ?? 0, c.length);
    });
  }
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join("  "));
}

/** `key: value` lines for one object, empty values shown as `-`. */
export function fields(view: Record<string, unknown>): string[] {
  return table(
    Object.entries(view).map(([k, v]) => [`${k}:`, String(v === "" || v === undefined ? "-" : v)]),
  );
}

export const ts = (t: Timestamp | undefined) => (t ? timestampDate(t).toISOString() : "-");
export const stateName = (s: NodeState) => (NodeState[s] ?? String(s)).toLowerCase();
export const archName = (a: Arch) => (Arch[a] ?? String(a)).toLowerCase();
export const sevName = (s: Severity) => (Severity[s] ?? String(s)).toLowerCase();

/** A required positional. */
export function required(ctx: CommandContext, index: number, what: string): string {
  const v = ctx.rest[index];
  if (!v) throw new UsageError(`${ctx.args.positionals[0]} ${ctx.verb}: missing <${what}>`);
  return v;
}

/** The usual answer to an unknown verb. */
export function unknownVerb(ctx: CommandContext, group: CommandGroup): number {
  ctx.io.err(`pnctl: unknown command "${group.name} ${ctx.verb ?? ""}"\n${group.usage}`);
  return 2;
}
