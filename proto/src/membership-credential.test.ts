import { describe, expect, test } from "bun:test";
import { generateKeyPairSync, sign } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import fc from "fast-check";
import { type MembershipCredential, MembershipCredentialSchema } from "./gen/powernode/v1/network_pb.ts";
import {
  canonicalEnvelope,
  constellationHandleOf,
  ENVELOPE_KEYS,
  type MembershipEnvelope,
  parseEnvelope,
  verifyCredential,
} from "./membership-credential.ts";

/** A constellation key for the tests: the private key and the raw public key (base64). */
function makeKey() {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const x = publicKey.export({ format: "jwk" }).x ?? "";
  return { privateKey, publicKeyB64: Buffer.from(x, "base64url").toString("base64") };
}

const key = makeKey();
const iat = 1_800_000_000;
const wgKey = Buffer.alloc(32, 7).toString("base64");

function envelope(over: Partial<MembershipEnvelope> = {}): MembershipEnvelope {
  return {
    iss: constellationHandleOf(key.publicKeyB64),
    sub: "5b1f3c1e-8d3a-4f7e-9a51-0f6f2b7c9d10",
    aud: "net-a1b2c3",
    iat,
    nbf: iat - 30,
    exp: iat + 3600,
    rev: 3,
    wg_pubkey: wgKey,
    addr_v6: "fd12:3456:789a:1:8c2e:11aa:5f03:9b21",
    endpoints: ["192.0.2.10:51820", "[2001:db8::10]:51820"],
    ...over,
  };
}

/** Signs `e` with `k` into the wire form, the way the hub does. */
function wireOf(e: MembershipEnvelope, k = key): MembershipCredential {
  const text = canonicalEnvelope(e);
  return create(MembershipCredentialSchema, {
    envelope: text,
    signature: sign(null, Buffer.from(text, "utf8"), k.privateKey).toString("base64"),
    constellationHandle: e.iss,
    revision: BigInt(e.rev),
    notBefore: timestampFromDate(new Date(e.nbf * 1000)),
    notAfter: timestampFromDate(new Date(e.exp * 1000)),
    refreshAfter: timestampFromDate(new Date((e.iat + 1800) * 1000)),
  });
}

const at = (seconds: number) => new Date(seconds * 1000);
const reasonOf = (r: ReturnType<typeof verifyCredential>) => (r.ok ? "ok" : r.reason);

describe("canonicalEnvelope", () => {
  test("writes exactly the ten keys in their fixed order, whatever order the object has", () => {
    const e = envelope();
    const shuffled = Object.fromEntries(Object.entries(e).reverse()) as unknown as MembershipEnvelope;
    const text = canonicalEnvelope(shuffled);
    expect(Object.keys(JSON.parse(text))).toEqual([...ENVELOPE_KEYS]);
    expect(text).toBe(canonicalEnvelope(e));
  });

  test("drops keys outside the ten", () => {
    const e = { ...envelope(), extra: 1 } as MembershipEnvelope;
    expect(Object.keys(JSON.parse(canonicalEnvelope(e)))).toHaveLength(10);
  });
});

describe("parseEnvelope", () => {
  test("round-trips any well-formed envelope", () => {
    const arb = fc.record({
      sub: fc.uuid(),
      iat: fc.integer({ min: 31, max: 2 ** 40 }),
      ttl: fc.integer({ min: 1, max: 86_400 }),
      rev: fc.integer({ min: 1, max: 2 ** 40 }),
      key: fc.uint8Array({ minLength: 32, maxLength: 32 }),
      endpoints: fc.array(fc.string({ minLength: 1 }), { maxLength: 4 }),
    });
    fc.assert(
      fc.property(arb, (a) => {
        const e = envelope({
          sub: a.sub,
          iat: a.iat,
          nbf: a.iat - 30,
          exp: a.iat + a.ttl,
          rev: a.rev,
          wg_pubkey: Buffer.from(a.key).toString("base64"),
          endpoints: a.endpoints,
        });
        const r = parseEnvelope(canonicalEnvelope(e));
        expect(r).toEqual({ ok: true, value: e });
      }),
    );
  });

  const text = (o: Record<string, unknown>) => JSON.stringify(o);
  const base = envelope() as unknown as Record<string, unknown>;
  test.each([
    ["not JSON", "{", "envelope: not JSON"],
    ["an array", "[]", "envelope: not a JSON object"],
    ["null", "null", "envelope: not a JSON object"],
    ["an unknown key", text({ ...base, tags: [] }), "tags: unknown key"],
    ["a missing key", text({ ...base, rev: undefined }), "rev: missing"],
    ["an empty iss", text({ ...base, iss: "" }), "iss: not a non-empty string"],
    ["a numeric sub", text({ ...base, sub: 7 }), "sub: not a non-empty string"],
    ["a string iat", text({ ...base, iat: "1" }), "iat: not a non-negative integer"],
    ["a fractional exp", text({ ...base, exp: 1.5 }), "exp: not a non-negative integer"],
    ["a negative rev", text({ ...base, rev: -1 }), "rev: not a non-negative integer"],
    ["a short wg_pubkey", text({ ...base, wg_pubkey: "AAAA" }), "wg_pubkey: not base64 of 32 bytes"],
    ["an addr_v6 with a length", text({ ...base, addr_v6: "fd00::1/128" }), "addr_v6: not an IPv6 address"],
    ["an IPv4 addr_v6", text({ ...base, addr_v6: "10.0.0.1" }), "addr_v6: not an IPv6 address"],
    ["endpoints as a string", text({ ...base, endpoints: "a:1" }), "endpoints: not an array"],
    ["an empty endpoint", text({ ...base, endpoints: [""] }), "endpoints: not an array"],
    ["exp before nbf", text({ ...base, exp: iat - 60 }), "exp: not after nbf"],
  ])("refuses %s, naming the key", (_what, input, error) => {
    const r = parseEnvelope(input);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toStartWith(error);
  });
});

describe("verifyCredential", () => {
  const now = at(iat);

  test("accepts a credential signed by the constellation key, returning its envelope", () => {
    const e = envelope();
    const r = verifyCredential(wireOf(e), key.publicKeyB64, {
      now,
      expect: { publicKey: e.wg_pubkey, address: e.addr_v6, aud: e.aud, sub: e.sub },
      minRevision: 3,
    });
    expect(r).toEqual({ ok: true, envelope: e });
  });

  test("one flipped byte of the envelope fails the signature", () => {
    const wire = wireOf(envelope());
    const bytes = Buffer.from(wire.envelope, "utf8");
    fc.assert(
      fc.property(fc.nat({ max: bytes.length - 1 }), fc.integer({ min: 1, max: 0x7f }), (i, bit) => {
        const flipped = Buffer.from(bytes);
        flipped[i] = (flipped[i] ?? 0) ^ bit;
        const r = verifyCredential({ ...wire, envelope: flipped.toString("utf8") }, key.publicKeyB64, {
          now,
        });
        expect(reasonOf(r)).toStartWith("signature: does not verify");
      }),
      { numRuns: 200 },
    );
  });

  test("one flipped byte of the signature fails it", () => {
    const wire = wireOf(envelope());
    const sig = Buffer.from(wire.signature, "base64");
    fc.assert(
      fc.property(fc.nat({ max: sig.length - 1 }), fc.integer({ min: 1, max: 0xff }), (i, bit) => {
        const flipped = Buffer.from(sig);
        flipped[i] = (flipped[i] ?? 0) ^ bit;
        const r = verifyCredential({ ...wire, signature: flipped.toString("base64") }, key.publicKeyB64, {
          now,
        });
        expect(r.ok).toBe(false);
      }),
      { numRuns: 200 },
    );
  });

  test("another constellation's key does not verify it", () => {
    const r = verifyCredential(wireOf(envelope()), makeKey().publicKeyB64, { now });
    expect(reasonOf(r)).toStartWith("signature: does not verify");
  });

  test("a signature by another key over an envelope naming this constellation fails", () => {
    const r = verifyCredential(wireOf(envelope(), makeKey()), key.publicKeyB64, { now });
    expect(reasonOf(r)).toStartWith("signature: does not verify");
  });

  test("an issuer other than the key's handle is refused", () => {
    const r = verifyCredential(wireOf(envelope({ iss: "net-0000000000000000" })), key.publicKeyB64, { now });
    expect(reasonOf(r)).toStartWith("iss: net-0000000000000000 is not the handle");
  });

  test("malformed keys and signatures are reasons, not exceptions", () => {
    const wire = wireOf(envelope());
    expect(reasonOf(verifyCredential(wire, "AAAA", { now }))).toStartWith("constellation public key:");
    expect(reasonOf(verifyCredential({ ...wire, signature: "x" }, key.publicKeyB64, { now }))).toStartWith(
      "signature: not base64",
    );
  });

  test("the window is nbf <= now < exp", () => {
    const e = envelope();
    const wire = wireOf(e);
    const v = (s: number) => reasonOf(verifyCredential(wire, key.publicKeyB64, { now: at(s) }));
    expect(v(e.nbf)).toBe("ok");
    expect(v(e.nbf - 1)).toStartWith("nbf: not valid before");
    expect(v(e.exp - 1)).toBe("ok");
    expect(v(e.exp)).toStartWith("exp: expired at");
  });

  test("each expectation must match", () => {
    const wire = wireOf(envelope());
    const v = (expect: Parameters<typeof verifyCredential>[2]["expect"]) =>
      reasonOf(verifyCredential(wire, key.publicKeyB64, { now, expect }));
    expect(v({ publicKey: Buffer.alloc(32, 8).toString("base64") })).toStartWith("wg_pubkey:");
    expect(v({ address: "fd12:3456:789a:1::2" })).toStartWith("addr_v6:");
    expect(v({ aud: "net-ffffff" })).toStartWith("aud:");
    expect(v({ sub: "another-node" })).toStartWith("sub:");
  });

  test("a revision below the one already accepted is refused", () => {
    const wire = wireOf(envelope({ rev: 3 }));
    expect(reasonOf(verifyCredential(wire, key.publicKeyB64, { now, minRevision: 4 }))).toStartWith(
      "rev: 3 is below revision 4",
    );
    expect(reasonOf(verifyCredential(wire, key.publicKeyB64, { now, minRevision: 3 }))).toBe("ok");
  });

  test("wire fields that disagree with the signed envelope are refused", () => {
    const wire = wireOf(envelope());
    const v = (w: MembershipCredential) => reasonOf(verifyCredential(w, key.publicKeyB64, { now }));
    expect(v({ ...wire, revision: 9n })).toStartWith("revision: 9 differs");
    expect(v({ ...wire, constellationHandle: "net-ffff" })).toStartWith("constellation_handle:");
    expect(v({ ...wire, notAfter: timestampFromDate(at(iat + 99_999)) })).toStartWith("not_after:");
    expect(v({ ...wire, notBefore: timestampFromDate(at(0)) })).toStartWith("not_before:");
  });
});
