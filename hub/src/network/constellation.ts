/**
 * A network's constellation key: the Ed25519 key the hub signs every member's credential with. The
 * private half stays in the hub's database (PKCS#8 PEM sealed like the CA key, ca/key-at-rest.ts);
 * members get the raw public key and its handle in their MeshMembership.
 */
import { createPrivateKey, generateKeyPairSync, sign } from "node:crypto";
import { constellationHandleOf } from "@powernode/proto";

/** What the `networks` row stores of its constellation key. */
export interface ConstellationKey {
  /** The private key, PKCS#8 PEM. */
  signingKeyPem: string;
  /** The raw 32-byte public key, base64. */
  signingPublicKey: string;
  /** "net-" + the first 16 hex characters of the SHA-256 of the raw public key. */
  constellationHandle: string;
}

/** Makes a fresh Ed25519 constellation key. */
export function createConstellationKey(): ConstellationKey {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const x = publicKey.export({ format: "jwk" }).x;
  if (!x) throw new Error("constellation key: the Ed25519 public key exported no JWK x");
  const signingPublicKey = Buffer.from(x, "base64url").toString("base64");
  return {
    signingKeyPem: privateKey.export({ format: "pem", type: "pkcs8" }).toString(),
    signingPublicKey,
    constellationHandle: constellationHandleOf(signingPublicKey),
  };
}

/** Ed25519 signature (base64) over the UTF-8 bytes of `text` with the PKCS#8 PEM key. */
export function signEnvelope(signingKeyPem: string, text: string): string {
  let key: ReturnType<typeof createPrivateKey>;
  try {
    key = createPrivateKey({ key: signingKeyPem, format: "pem" });
  } catch (e) {
    throw new Error("signing a membership envelope: the constellation key is not a PEM private key", {
      cause: e,
    });
  }
  if (key.asymmetricKeyType !== "ed25519")
    throw new Error(
      `signing a membership envelope: the constellation key is ${key.asymmetricKeyType}, not ed25519`,
    );
  return sign(null, Buffer.from(text, "utf8"), key).toString("base64");
}
