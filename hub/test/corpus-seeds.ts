/**
 * The seeds of the malformed-input corpus (malformed-corpus.ts): a small deterministic random source and
 * a plausible JSON value for any message, built from its schema (every field set once, lists of one,
 * well-known types in their JSON forms), with the places of its strings and Structs noted for the
 * mutations that target them.
 */
import { type DescField, type DescMessage, ScalarType } from "@bufbuild/protobuf";

/** mulberry32: small, fast, deterministic. */
export function createRng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1));
  const pick = <T>(xs: readonly T[]): T => xs[int(0, xs.length - 1)] as T;
  return { next, int, pick };
}
export type Rng = ReturnType<typeof createRng>;

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type Path = (string | number)[];

/** Where the seed's strings and Structs are, for the mutations that target them. */
export interface Spots {
  strings: Path[];
  structs: Path[];
}

const STRINGS = [
  "",
  "x",
  "system.network.up",
  "3f2c6a52-8d7e-4b1a-9c3d-2e5f7a8b9c0d",
  "a-name",
  "1.0",
  "ünï ✓",
];

/** A plausible JSON value for message `d` (every field set once; lists of one; depth-bounded). */
export function seedMessage(d: DescMessage, rng: Rng, spots: Spots, path: Path, depth: number): Json {
  switch (d.typeName) {
    case "google.protobuf.Timestamp":
      return new Date(Date.UTC(2026, 0, rng.int(1, 28), 3, 4, 5)).toISOString();
    case "google.protobuf.Duration":
      return `${rng.int(0, 100)}s`;
    case "google.protobuf.Struct":
      spots.structs.push(path);
      spots.strings.push([...path, "s"]);
      return { s: rng.pick(STRINGS), n: rng.int(0, 9), l: [true, null] };
    case "google.protobuf.Value":
      return rng.pick(STRINGS);
    case "google.protobuf.ListValue":
      return [1, "a"];
    case "google.protobuf.Empty":
      return {};
    case "google.protobuf.Any":
      return null;
  }
  const out: { [k: string]: Json } = {};
  if (depth > 4) return out;
  const oneofsDone = new Set<string>();
  for (const f of d.fields) {
    if (f.oneof) {
      if (oneofsDone.has(f.oneof.name)) continue;
      oneofsDone.add(f.oneof.name);
    }
    const v = seedField(f, rng, spots, [...path, f.jsonName], depth);
    if (v !== undefined) out[f.jsonName] = v;
  }
  return out;
}

function seedScalar(t: ScalarType, rng: Rng, spots: Spots, path: Path): Json {
  switch (t) {
    case ScalarType.STRING:
      spots.strings.push(path);
      return rng.pick(STRINGS);
    case ScalarType.BOOL:
      return rng.next() < 0.5;
    case ScalarType.BYTES:
      return Buffer.from(Array.from({ length: rng.int(0, 40) }, () => rng.int(0, 255))).toString("base64");
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return rng.int(0, 1000) / 4;
    case ScalarType.INT64:
    case ScalarType.UINT64:
    case ScalarType.SINT64:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return String(rng.int(0, 50));
    default:
      return rng.int(0, 50);
  }
}

function seedField(f: DescField, rng: Rng, spots: Spots, path: Path, depth: number): Json | undefined {
  switch (f.fieldKind) {
    case "scalar":
      return seedScalar(f.scalar, rng, spots, path);
    case "enum":
      return rng.pick(f.enum.values).name;
    case "message":
      return seedMessage(f.message, rng, spots, path, depth + 1);
    case "list":
      if (f.listKind === "scalar") return [seedScalar(f.scalar, rng, spots, [...path, 0])];
      if (f.listKind === "enum") return [rng.pick(f.enum.values).name];
      return depth > 3 ? [] : [seedMessage(f.message, rng, spots, [...path, 0], depth + 1)];
    case "map": {
      const key = f.mapKey === ScalarType.STRING ? "k" : f.mapKey === ScalarType.BOOL ? "true" : "1";
      if (f.mapKind === "scalar") return { [key]: seedScalar(f.scalar, rng, spots, [...path, key]) };
      if (f.mapKind === "enum") return { [key]: rng.pick(f.enum.values).name };
      return { [key]: seedMessage(f.message, rng, spots, [...path, key], depth + 1) };
    }
  }
}
