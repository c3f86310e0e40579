/**
 * Answers the hub's attestation challenge: the nonce from a heartbeat answer, this boot's id and the
 * module digests the node observes, signed with the node's own key (the one its certificate certifies).
 * The signed bytes are `attestationPayload()` from `@powernode/proto`, which the hub rebuilds to verify.
 */
import { attestationPayload } from "@powernode/proto";
import type { HubLink } from "../../hub/hub-client.ts";
import type { ControllerContext } from "../../runtime/controller.ts";
import type { ModuleObservation } from "../resources.ts";

/** Signs with the node key (PKCS#8 PEM, ECDSA P-256): IEEE P1363 r||s, as WebCrypto gives it. */
export async function signWithNodeKey(keyPem: string, data: Uint8Array): Promise<Uint8Array> {
  const der = Buffer.from(keyPem.replace(/-----[^-]+-----|\s/g, ""), "base64");
  const key = await crypto.subtle.importKey("pkcs8", der, { name: "ECDSA", namedCurve: "P-256" }, false, [
    "sign",
  ]);
  return new Uint8Array(
    await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, key, new Uint8Array(data)),
  );
}

/** Answers one challenge; logs the hub's verdict. Never throws (the next challenge is the retry). */
export async function answerAttestation(
  ctx: Pick<ControllerContext, "log" | "signal"> & { bootId: string; keyPem: string },
  link: HubLink,
  nonce: Uint8Array,
  modules: ModuleObservation[],
): Promise<void> {
  const { keyPem } = ctx;
  try {
    const signature = await signWithNodeKey(keyPem, attestationPayload(nonce, ctx.bootId, modules));
    const r = await link
      .current()
      .client.attest(
        { nonce, bootId: ctx.bootId, modules, signature },
        { signal: ctx.signal, timeoutMs: 15_000 },
      );
    ctx.log.info(
      `attestation: ${modules.length} module(s) ${r.verified ? "verified by the hub" : `NOT verified (${r.driftCount} drift(s))`}`,
    );
  } catch (err) {
    ctx.log.warn(
      `attestation: answering the hub's challenge failed: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}
