import { afterAll, beforeAll, expect, test } from "bun:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { attestationPayload, FleetService } from "@powernode/proto";
import { assignTestModules, enrollTestNode, operatorClient, startTestHub } from "../../test/harness.ts";
import type { RunningHub } from "../hub.ts";

const A = "a".repeat(64);
const B = "b".repeat(64);
const mod = { name: "base", version: "1", metadataDigest: A, verityRootHash: B };

let hub: RunningHub;
beforeAll(async () => {
  hub = await startTestHub();
}, 30_000);
afterAll(async () => {
  await hub.stop();
});

async function sign(keyPem: string, data: Uint8Array): Promise<Uint8Array> {
  const der = Buffer.from(keyPem.replace(/-----[^-]+-----|\s/g, ""), "base64");
  const key = await crypto.subtle.importKey("pkcs8", der, { name: "ECDSA", namedCurve: "P-256" }, false, [
    "sign",
  ]);
  return new Uint8Array(
    await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, key, new Uint8Array(data)),
  );
}

test("challenge -> nonce in the heartbeat answer -> signed digests verified; a nonce answers once", async () => {
  const n = await enrollTestNode(hub, "att-1");
  await assignTestModules(hub, n.id, [mod]);
  await n.client.heartbeat({ bootId: "b1" });
  const fleet = operatorClient(hub, FleetService);
  const { nonce } = await fleet.requestAttestation({ nodeId: n.id });
  const hb = await n.client.heartbeat({ bootId: "b1" });
  expect(hb.attestNonce).toEqual(nonce);

  const modules = [
    { name: "base", version: "1", metadataDigest: A, verityRootHash: B, state: "mounted", message: "" },
  ];
  const signature = await sign(n.keyPem, attestationPayload(nonce, "b1", modules));
  expect(await n.client.attest({ nonce, bootId: "b1", modules, signature })).toMatchObject({
    verified: true,
    driftCount: 0,
  });
  const verified = await fleet.listEvents({ nodeId: n.id, kindPrefix: "system.attestation.verified" });
  expect(verified.events).toHaveLength(1);
  expect((await n.client.heartbeat({ bootId: "b1" })).attestNonce).toHaveLength(0);

  const replay = await n.client
    .attest({ nonce, bootId: "b1", modules, signature })
    .catch((e) => ConnectError.from(e));
  expect(replay instanceof ConnectError ? Code[replay.code] : "ok").toBe("FailedPrecondition");
});

test("a tampered digest in a correctly signed answer is drift; a bad signature is a failed attestation", async () => {
  const n = await enrollTestNode(hub, "att-2");
  await assignTestModules(hub, n.id, [mod]);
  await n.client.heartbeat({ bootId: "b2" });
  const fleet = operatorClient(hub, FleetService);

  let { nonce } = await fleet.requestAttestation({ nodeId: n.id });
  const drifted = [
    {
      name: "base",
      version: "1",
      metadataDigest: "f".repeat(64),
      verityRootHash: B,
      state: "mounted",
      message: "",
    },
  ];
  let signature = await sign(n.keyPem, attestationPayload(nonce, "b2", drifted));
  expect(await n.client.attest({ nonce, bootId: "b2", modules: drifted, signature })).toMatchObject({
    verified: false,
    driftCount: 1,
  });
  const drift = await fleet.listEvents({ nodeId: n.id, kindPrefix: "system.module_drift" });
  expect(drift.events.map((e) => e.payload?.field)).toEqual(["metadata_digest"]);

  ({ nonce } = await fleet.requestAttestation({ nodeId: n.id }));
  const honest = [
    { name: "base", version: "1", metadataDigest: A, verityRootHash: B, state: "mounted", message: "" },
  ];
  // Signed over other digests than the ones sent: the signature does not cover what the hub receives.
  signature = await sign(n.keyPem, attestationPayload(nonce, "b2", drifted));
  expect(await n.client.attest({ nonce, bootId: "b2", modules: honest, signature })).toMatchObject({
    verified: false,
  });
  const failed = await fleet.listEvents({ nodeId: n.id, kindPrefix: "system.attestation.failed" });
  expect(failed.events.at(-1)?.payload?.reason).toBe("bad_signature");
});
