/**
 * Module signatures, checked before anything is fetched or mounted: when the hub's modules section
 * carries its signing key, every assignment must carry a cosign simple-signing payload that names the
 * artifact's manifest digest and repository, signed (ECDSA P-256, SHA-256, DER) by that key.
 */
import { verify } from "node:crypto";
import type { ModuleAssignment } from "@powernode/proto";
import { pullLocationsOf } from "./assignment.ts";

const SIGNATURE_TYPE = "cosign container image signature";

/** Why `a` may not be mounted under `keyPem`, or undefined when its signature holds. */
export function signatureProblem(a: ModuleAssignment, keyPem: string): string | undefined {
  if (a.signature === "" || a.signaturePayload === "")
    return "unsigned: the hub signs modules and this assignment carries no signature";
  const payload = new TextEncoder().encode(a.signaturePayload);
  let ok = false;
  try {
    ok = verify("sha256", payload, { key: keyPem, dsaEncoding: "der" }, Buffer.from(a.signature, "base64"));
  } catch (e) {
    return `signature not checkable: ${e instanceof Error ? e.message : String(e)}`;
  }
  if (!ok) return "the signature does not verify with the hub's module key";
  let critical: { type?: unknown; image?: Record<string, unknown>; identity?: Record<string, unknown> };
  try {
    critical = (JSON.parse(a.signaturePayload) as { critical?: typeof critical }).critical ?? {};
  } catch {
    return "the signed payload is not JSON";
  }
  const loc = pullLocationsOf(a);
  if (!loc.ok) return loc.error;
  const ref = loc.value[0]?.ref;
  if (critical.type !== SIGNATURE_TYPE) return `the signed payload's type is not "${SIGNATURE_TYPE}"`;
  if (critical.image?.["docker-manifest-digest"] !== ref?.digest)
    return `the signature is for ${String(critical.image?.["docker-manifest-digest"]).slice(0, 80)}, the assignment names ${ref?.digest}`;
  if (critical.identity?.["docker-reference"] !== ref?.repository)
    return `the signature is for ${String(critical.identity?.["docker-reference"]).slice(0, 80)}, the assignment names ${ref?.repository}`;
  return undefined;
}
