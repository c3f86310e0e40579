/**
 * A deterministic corpus of malformed request bodies for every RPC of the given services (issue 23,
 * item 2). From one seed it builds a plausible message per method (every field filled, from the
 * schema: corpus-seeds.ts), then mutates its binary or JSON encoding: truncations, bit flips, wrong and illegal wire
 * types, bad lengths and varints, deep groups, garbage; NUL, lone surrogates, invalid UTF-8 and
 * overlong strings; Structs nested past the edge rule and the decoder; JSON that is cut, corrupted,
 * mistyped, out of range or unknown. Unmodified seeds are in the mix too, so the handlers run on odd
 * but valid data. The same seed always yields the same cases.
 *
 *   for (const c of malformedCorpus(methodsOf(services), { seed: 23, count: 10_000 })) send(c)
 */
import {
  type DescMessage,
  type DescMethod,
  type DescService,
  fromJson,
  ScalarType,
  toBinary,
} from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { createRng, type Json, type Path, type Rng, type Spots, seedMessage } from "./corpus-seeds.ts";

export { createRng } from "./corpus-seeds.ts";

/** One RPC of a service. */
export interface CorpusMethod {
  /** `/powernode.v1.NodeService/Heartbeat` */
  path: string;
  method: DescMethod;
}

/** One generated case. */
export interface CorpusCase {
  index: number;
  path: string;
  method: DescMethod;
  /** The mutation, e.g. `binary:truncate`, `json:nul-string`, `binary:valid`. */
  kind: string;
  format: "proto" | "json";
  body: Uint8Array;
}

/** Every method of `services`, in order. */
export function methodsOf(services: readonly DescService[]): CorpusMethod[] {
  return services.flatMap((s) => s.methods.map((m) => ({ path: `/${s.typeName}/${m.name}`, method: m })));
}

function setAt(root: Json, path: Path, v: Json): Json {
  if (path.length === 0) return v;
  const copy = structuredClone(root) as { [k: string]: Json } | Json[];
  let cur: Json = copy;
  for (let i = 0; i < path.length - 1; i++)
    cur = (cur as Record<string | number, Json>)[path[i] as string] as Json;
  (cur as Record<string | number, Json>)[path[path.length - 1] as string] = v;
  return copy;
}

function nested(depth: number, leaf: Json = {}): Json {
  let v: Json = leaf;
  for (let i = 0; i < depth; i++) v = { d: v };
  return v;
}

const enc = (s: string) => new TextEncoder().encode(s);

/** Binary of a JSON seed, or undefined when the decoder's own JSON rules refuse it. */
function toBin(d: DescMessage, json: Json): Uint8Array | undefined {
  try {
    return toBinary(d, fromJson(d, json as never));
  } catch {
    return undefined;
  }
}

type Mutation = (ctx: { d: DescMessage; seed: Json; valid: Uint8Array; spots: Spots; rng: Rng }) =>
  | {
      format: "proto" | "json";
      body: Uint8Array;
    }
  | undefined;

const fieldNumbers = (d: DescMessage) => (d.fields.length > 0 ? d.fields.map((f) => f.number) : [1]);

const MUTATIONS: Record<string, Mutation> = {
  "binary:valid": ({ valid }) => ({ format: "proto", body: valid }),
  "binary:truncate": ({ valid, rng }) =>
    valid.length > 1
      ? { format: "proto", body: valid.subarray(0, rng.int(1, valid.length - 1)) }
      : { format: "proto", body: new Uint8Array([0x08]) },
  "binary:single-byte": ({ rng }) => ({
    format: "proto",
    body: new Uint8Array([rng.pick([0x08, 0x0a, 0x10, 0x12, 0x1a, 0x22, 0x80])]),
  }),
  "binary:bit-flip": ({ valid, rng }) => {
    const b = valid.length > 0 ? Uint8Array.from(valid) : new Uint8Array([0x0a, 0x01, 0x61]);
    for (let i = rng.int(1, 3); i > 0; i--) {
      const at = rng.int(0, b.length - 1);
      b[at] = (b[at] ?? 0) ^ (1 << rng.int(0, 7));
    }
    return { format: "proto", body: b };
  },
  "binary:wrong-wire-type": ({ d, valid, rng }) => {
    const no = rng.pick(fieldNumbers(d));
    const w = new BinaryWriter();
    const t = rng.pick([
      WireType.Varint,
      WireType.Bit64,
      WireType.LengthDelimited,
      WireType.StartGroup,
      WireType.Bit32,
    ]);
    w.tag(no, t);
    if (t === WireType.Varint) w.uint64(rng.int(0, 1e6));
    else if (t === WireType.Bit64) w.fixed64(7n);
    else if (t === WireType.Bit32) w.fixed32(7);
    else if (t === WireType.LengthDelimited) w.bytes(new Uint8Array([0x08, 0x96, 0x01]));
    return { format: "proto", body: Buffer.concat([valid, w.finish()]) };
  },
  "binary:illegal-wire-type": ({ d, rng }) => ({
    format: "proto",
    body: new Uint8Array([(rng.pick(fieldNumbers(d)) << 3) | rng.pick([6, 7]), 0x01]),
  }),
  "binary:overlong-length": ({ d, valid, rng }) => ({
    format: "proto",
    body: Buffer.concat([
      valid,
      new BinaryWriter()
        .tag(rng.pick(fieldNumbers(d)), WireType.LengthDelimited)
        .uint32(rng.int(64, 2 ** 31))
        .finish(),
      enc("abc"),
    ]),
  }),
  "binary:varint-overflow": ({ d, rng }) => ({
    format: "proto",
    body: new Uint8Array([(rng.pick(fieldNumbers(d)) << 3) | 0, ...new Array(11).fill(0xff), 0x01]),
  }),
  "binary:deep-groups": ({ rng }) => {
    const depth = rng.pick([50, 101, 500]);
    const w = new BinaryWriter();
    for (let i = 0; i < depth; i++) w.tag(900, WireType.StartGroup);
    for (let i = 0; i < depth; i++) w.tag(900, WireType.EndGroup);
    return { format: "proto", body: w.finish() };
  },
  "binary:garbage": ({ rng }) => ({
    format: "proto",
    body: Uint8Array.from({ length: rng.int(1, 96) }, () => rng.int(0, 255)),
  }),
  "binary:bad-utf8": ({ d, rng }) => {
    const f = d.fields.find((x) => x.fieldKind === "scalar" && x.scalar === ScalarType.STRING) ?? d.fields[0];
    const bad = rng.pick([[0xc3, 0x28], [0xff], [0xed, 0xa0, 0x80], [0xe2, 0x82]]);
    return {
      format: "proto",
      body: new BinaryWriter()
        .tag(f?.number ?? 1, WireType.LengthDelimited)
        .bytes(new Uint8Array([0x61, ...bad]))
        .finish(),
    };
  },
  "binary:nul-string": ({ d, seed, spots, rng }) => {
    if (spots.strings.length === 0) return undefined;
    const body = toBin(
      d,
      setAt(seed, rng.pick(spots.strings), rng.pick(["\u0000", "a\u0000b", "\u0000".repeat(50)])),
    );
    return body && { format: "proto", body };
  },
  "binary:overlong-string": ({ d, seed, spots, rng }) => {
    if (spots.strings.length === 0) return undefined;
    const body = toBin(d, setAt(seed, rng.pick(spots.strings), "x".repeat(rng.pick([70_000, 300_000]))));
    return body && { format: "proto", body };
  },
  "binary:deep-struct": ({ d, seed, spots, rng }) => {
    if (spots.structs.length === 0) return undefined;
    const body = toBin(
      d,
      setAt(seed, rng.pick(spots.structs), nested(rng.pick([31, 33, 49, 60, 200]), { s: "x" })),
    );
    return body && { format: "proto", body };
  },
  "json:valid": ({ seed }) => ({ format: "json", body: enc(JSON.stringify(seed)) }),
  "json:truncate": ({ seed, rng }) => {
    const s = JSON.stringify(seed);
    return { format: "json", body: enc(s.slice(0, rng.int(0, Math.max(0, s.length - 1)))) };
  },
  "json:char-flip": ({ seed, rng }) => {
    const s = JSON.stringify(seed).split("");
    for (let i = rng.int(1, 3); i > 0; i--)
      s[rng.int(0, s.length - 1)] = rng.pick(["{", "}", '"', ",", ":", "[", "\\", "x", "0", " "]);
    return { format: "json", body: enc(s.join("")) };
  },
  "json:wrong-type": ({ seed, rng }) => {
    if (typeof seed !== "object" || seed === null || Array.isArray(seed)) return undefined;
    const keys = Object.keys(seed);
    if (keys.length === 0) return { format: "json", body: enc('{"x":1}') };
    const v = rng.pick<Json>(["text", 12.5, -1, true, null, [1, 2], { a: 1 }, 1e308, "Infinity", "NaN"]);
    return { format: "json", body: enc(JSON.stringify(setAt(seed, [rng.pick(keys)], v))) };
  },
  "json:unknown-field": ({ seed }) => ({
    format: "json",
    body: enc(JSON.stringify({ ...(seed as object), bogusField: 1 })),
  }),
  "json:nul-string": ({ seed, spots, rng }) =>
    spots.strings.length === 0
      ? undefined
      : { format: "json", body: enc(JSON.stringify(setAt(seed, rng.pick(spots.strings), "nul\u0000here"))) },
  "json:lone-surrogate": ({ seed, spots, rng }) =>
    spots.strings.length === 0
      ? undefined
      : {
          format: "json",
          body: enc(JSON.stringify(setAt(seed, rng.pick(spots.strings), rng.pick(["\ud800", "a\udfff"])))),
        },
  "json:overlong-string": ({ seed, spots, rng }) =>
    spots.strings.length === 0
      ? undefined
      : {
          format: "json",
          body: enc(
            JSON.stringify(setAt(seed, rng.pick(spots.strings), "y".repeat(rng.pick([65_537, 500_000])))),
          ),
        },
  "json:bad-utf8": ({ seed, rng }) => {
    const s = enc(JSON.stringify(seed));
    const at = rng.int(0, s.length);
    return {
      format: "json",
      body: Buffer.concat([
        s.subarray(0, at),
        new Uint8Array([rng.pick([0xff, 0xc3, 0x80])]),
        s.subarray(at),
      ]),
    };
  },
  "json:deep": ({ seed, spots, rng }) => {
    // Built as text: JSON.stringify of a 100,000-deep value would overflow this side's stack.
    const depth = rng.pick([33, 101, 1000, 100_000]);
    const deep = `${'{"d":'.repeat(depth)}{}${"}".repeat(depth)}`;
    if (spots.structs.length > 0 && rng.next() < 0.7) {
      const text = JSON.stringify(setAt(seed, rng.pick(spots.structs), "__DEEP__")).replace(
        '"__DEEP__"',
        deep,
      );
      return { format: "json", body: enc(text) };
    }
    return { format: "json", body: enc(`${"[".repeat(depth)}${"]".repeat(depth)}`) };
  },
  "json:out-of-range": ({ d, seed, rng }) => {
    const f = rng.pick(d.fields.length > 0 ? d.fields : [undefined]);
    if (!f || typeof seed !== "object" || seed === null || Array.isArray(seed)) return undefined;
    const v = rng.pick<Json>([
      4294967296,
      -2147483649,
      "18446744073709551616",
      "-1",
      1.5,
      "10000-01-01T00:00:00Z",
      "0000-01-01T00:00:00Z",
      "NOT_AN_ENUM",
      99999,
    ]);
    return { format: "json", body: enc(JSON.stringify(setAt(seed, [f.jsonName], v))) };
  },
  "json:garbage": ({ rng }) => ({
    format: "json",
    body: Uint8Array.from({ length: rng.int(1, 64) }, () => rng.int(0, 255)),
  }),
};

/** The mutation names, in the order they are drawn from. */
export const MUTATION_KINDS = Object.keys(MUTATIONS);

/**
 * `count` cases, spread round-robin over `methods` (every RPC gets its share), each a mutation drawn
 * from {@link MUTATION_KINDS} by the seeded generator.
 */
export function* malformedCorpus(
  methods: readonly CorpusMethod[],
  opts: { seed: number; count: number },
): Generator<CorpusCase> {
  const rng = createRng(opts.seed);
  const seeds = methods.map((m) => {
    const spots: Spots = { strings: [], structs: [] };
    const seed = seedMessage(m.method.input, rng, spots, [], 0);
    const valid = toBin(m.method.input, seed) ?? new Uint8Array();
    return { m, seed, spots, valid };
  });
  for (let index = 0; index < opts.count; index++) {
    const s = seeds[index % seeds.length];
    if (!s) return;
    let out: ReturnType<Mutation>;
    let kind = "";
    for (let tries = 0; !out && tries < 8; tries++) {
      kind = rng.pick(MUTATION_KINDS);
      out = MUTATIONS[kind]?.({ d: s.m.method.input, seed: s.seed, valid: s.valid, spots: s.spots, rng });
    }
    if (!out) {
      kind = "binary:garbage";
      out = { format: "proto", body: new Uint8Array([0x08]) };
    }
    yield { index, path: s.m.path, method: s.m.method, kind, ...out };
  }
}
