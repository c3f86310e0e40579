import { describe, expect, test } from "bun:test";
import { createPrivateKey, createPublicKey, generateKeyPairSync, verify } from "node:crypto";
import { constellationHandleOf } from "@powernode/proto";
import { createConstellationKey, signEnvelope } from "./constellation.ts";

describe("constellation key", () => {
  test("a PKCS#8 Ed25519 key, its raw public key and the handle of it", () => {
    const k = createConstellationKey();
    expect(k.signingKeyPem).toStartWith("-----BEGIN PRIVATE KEY-----\n");
    expect(createPrivateKey(k.signingKeyPem).asymmetricKeyType).toBe("ed25519");
    expect(Buffer.from(k.signingPublicKey, "base64")).toHaveLength(32);
    expect(k.constellationHandle).toMatch(/^net-[0-9a-f]{16}$/);
    expect(k.constellationHandle).toBe(constellationHandleOf(k.signingPublicKey));
    expect(createConstellationKey().constellationHandle).not.toBe(k.constellationHandle);
  });

  test("signEnvelope signs the UTF-8 bytes of the text; the raw public key verifies it", () => {
    const k = createConstellationKey();
    const text = '{"iss":"x","endpoints":["ü:1"]}';
    const sig = Buffer.from(signEnvelope(k.signingKeyPem, text), "base64");
    expect(sig).toHaveLength(64);
    const pub = createPublicKey({
      key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(k.signingPublicKey, "base64").toString("base64url") },
      format: "jwk",
    });
    expect(verify(null, Buffer.from(text, "utf8"), pub, sig)).toBe(true);
    expect(verify(null, Buffer.from(`${text} `, "utf8"), pub, sig)).toBe(false);
  });

  test("signEnvelope refuses a key that is not Ed25519, saying so", () => {
    const ec = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({
      format: "pem",
      type: "pkcs8",
    });
    expect(() => signEnvelope(ec.toString(), "x")).toThrow("the constellation key is ec, not ed25519");
    expect(() => signEnvelope("not a pem", "x")).toThrow("the constellation key is not a PEM private key");
  });
});
