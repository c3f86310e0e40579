/**
 * The one edge rule for values from the wire: every string (fields, list items, map keys and values,
 * the keys and strings of a Struct), every Struct and every Timestamp of a decoded request is checked
 * once, by walking the message along its schema, before any handler sees it. A string holds no NUL
 * (PostgreSQL text and jsonb cannot), is well-formed UTF-16 (no lone surrogate: it would not survive
 * UTF-8) and has at most {@link INPUT_LIMITS}.maxStringChars characters; a Struct nests at most
 * maxStructDepth levels; a Timestamp lies in 0001-01-01..9999-12-31 with nanos in range. A violation
 * is an `invalid_argument` DomainError naming the path (`events[2].payload.note: contains a NUL
 * character`). Fields' own rules (lengths, formats) stay with the services (fields.ts).
 */
import { type DescField, type DescMessage, ScalarType } from "@bufbuild/protobuf";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { DomainError, isDomainError } from "../errors.ts";
import { isDecodeProblem, type MalformedRecorder, protocolOf } from "./decode-errors.ts";
import { methodName } from "./method-name.ts";

/** The limits of the edge rule. */
export interface InputLimits {
  /** Longest string anywhere in a request, in UTF-16 code units (the 4 MiB message limit applies too). */
  maxStringChars: number;
  /** Deepest nesting of a Struct value: `{}` is 1, `{"a": {}}` 2, `{"a": [{}]}` 3. */
  maxStructDepth: number;
}

export const INPUT_LIMITS: InputLimits = { maxStringChars: 64 * 1024, maxStructDepth: 32 };

/** Timestamp range of the protobuf JSON mapping: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z. */
const TS_MIN_SECONDS = -62_135_596_800n;
const TS_MAX_SECONDS = 253_402_300_799n;
/** Message nesting the walker follows (the decoders stop at 100). */
const MAX_MESSAGE_DEPTH = 100;

type Segment = string | number | { key: string };

/** `events[2].payload.note`, `labels["a b"]`: field names as in the .proto, keys quoted when not plain. */
export function formatPath(path: readonly Segment[]): string {
  let out = "";
  for (const s of path) {
    if (typeof s === "number") out += `[${s}]`;
    else if (typeof s === "string") out += out === "" ? s : `.${s}`;
    else if (/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(s.key)) out += out === "" ? s.key : `.${s.key}`;
    else
      out += `[${JSON.stringify(s.key.slice(0, 32).replace(/\p{Cc}/gu, "?"))}${s.key.length > 32 ? "…" : ""}]`;
  }
  return out === "" ? "request" : out;
}

/** Checks `msg` (a decoded message of `desc`) against the edge rule; throws the first violation. */
export function checkInput(desc: DescMessage, msg: unknown, limits: InputLimits = INPUT_LIMITS): void {
  const path: Segment[] = [];
  const fail = (problem: string): never => {
    throw new DomainError("invalid_argument", `${formatPath(path)}: ${problem}`);
  };
  const str = (v: unknown): void => {
    if (typeof v !== "string") return;
    if (v.length > limits.maxStringChars) fail(`longer than ${limits.maxStringChars} characters`);
    if (v.includes("\u0000")) fail("contains a NUL character");
    if (!v.isWellFormed()) fail("not valid UTF-8 (a lone surrogate)");
  };
  const key = (k: string): void => {
    if (k.length > limits.maxStringChars) fail(`a key longer than ${limits.maxStringChars} characters`);
    if (k.includes("\u0000")) fail("a key contains a NUL character");
    if (!k.isWellFormed()) fail("a key is not valid UTF-8 (a lone surrogate)");
  };
  // A Struct, Value or ListValue in its JSON form (how singular fields of those types are decoded).
  const json = (v: unknown, depth: number): void => {
    if (typeof v === "string") {
      str(v);
      return;
    }
    if (v === null || typeof v !== "object") return;
    if (depth > limits.maxStructDepth) fail(`nested deeper than ${limits.maxStructDepth} levels`);
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        path.push(i);
        json(v[i], depth + 1);
        path.pop();
      }
      return;
    }
    for (const [k, x] of Object.entries(v)) {
      key(k);
      path.push({ key: k });
      json(x, depth + 1);
      path.pop();
    }
  };
  const message = (d: DescMessage, v: unknown, depth: number): void => {
    if (v === undefined || v === null) return;
    if (typeof v !== "object" || !("$typeName" in v)) {
      // Well-known types a singular field holds unwrapped.
      if (
        d.typeName === "google.protobuf.Struct" ||
        d.typeName === "google.protobuf.Value" ||
        d.typeName === "google.protobuf.ListValue"
      )
        json(v, 1);
      else if (d.typeName === "google.protobuf.StringValue") str(v);
      return;
    }
    if (depth > MAX_MESSAGE_DEPTH) fail(`messages nested deeper than ${MAX_MESSAGE_DEPTH}`);
    const m = v as Record<string, unknown>;
    if (d.typeName === "google.protobuf.Timestamp") {
      const seconds = BigInt((m.seconds as bigint | number | undefined) ?? 0);
      const nanos = Number(m.nanos ?? 0);
      if (seconds < TS_MIN_SECONDS || seconds > TS_MAX_SECONDS)
        fail("not a time between 0001-01-01 and 9999-12-31");
      if (!Number.isInteger(nanos) || nanos < 0 || nanos > 999_999_999) fail("nanos must be 0 to 999999999");
      return;
    }
    for (const member of d.members) {
      if (member.kind === "oneof") {
        const o = m[member.localName] as { case?: string; value?: unknown } | undefined;
        if (!o?.case) continue;
        const f = member.fields.find((x) => x.localName === o.case);
        if (f) field(f, o.value, depth);
        continue;
      }
      field(member, m[member.localName], depth);
    }
  };
  const field = (f: DescField, v: unknown, depth: number): void => {
    if (v === undefined) return;
    path.push(f.name);
    switch (f.fieldKind) {
      case "scalar":
        if (f.scalar === ScalarType.STRING) str(v);
        break;
      case "enum":
        break;
      case "message":
        message(f.message, v, depth + 1);
        break;
      case "list": {
        const items = v as readonly unknown[];
        if (f.listKind === "scalar" && f.scalar === ScalarType.STRING) {
          for (let i = 0; i < items.length; i++) {
            path.push(i);
            str(items[i]);
            path.pop();
          }
        } else if (f.listKind === "message") {
          for (let i = 0; i < items.length; i++) {
            path.push(i);
            message(f.message, items[i], depth + 1);
            path.pop();
          }
        }
        break;
      }
      case "map": {
        for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
          if (f.mapKey === ScalarType.STRING) key(k);
          path.push({ key: k });
          if (f.mapKind === "scalar" && f.scalar === ScalarType.STRING) str(x);
          else if (f.mapKind === "message") message(f.message, x, depth + 1);
          path.pop();
        }
        break;
      }
    }
    path.pop();
  };
  message(desc, msg, 0);
}

/**
 * Applies {@link checkInput} to every request message (a unary request's, each message of a request
 * stream as it is read) and maps a streaming request's decode error (decoded here, inside the
 * interceptors) to `invalid_argument`; both are recorded as malformed input.
 */
export function createInputInterceptor(
  record: MalformedRecorder,
  limits: InputLimits = INPUT_LIMITS,
): Interceptor {
  return (next) => async (req) => {
    const method = methodName(req.method);
    const protocol = protocolOf(req.header.get("content-type"));
    const refuse = (e: unknown): unknown => {
      if (isDomainError(e) && e.kind === "invalid_argument") {
        record(method, protocol, e.message);
        return e;
      }
      if (e instanceof ConnectError && e.code === Code.Internal && isDecodeProblem(e.rawMessage)) {
        record(method, protocol, e.rawMessage);
        return new ConnectError(e.rawMessage, Code.InvalidArgument, undefined, undefined, e);
      }
      return e;
    };
    if (!req.stream) {
      try {
        checkInput(req.method.input, req.message, limits);
      } catch (e) {
        throw refuse(e);
      }
      return next(req);
    }
    const input = req.message;
    const desc = req.method.input;
    return next({
      ...req,
      message: (async function* () {
        try {
          for await (const m of input) {
            checkInput(desc, m, limits);
            yield m;
          }
        } catch (e) {
          throw refuse(e);
        }
      })(),
    });
  };
}
