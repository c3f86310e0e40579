/**
 * Module signing on the hub: a version with an OCI digest is signed when it is created (cosign simple
 * signing, the hub's P-256 key), and a node's modules section carries the key and each signature.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { verify } from "node:crypto";
import { Arch, CatalogService, ProvisionService } from "@powernode/proto";
import { operatorClient, startTestHub } from "../../test/harness.ts";
import type { RunningHub } from "../hub.ts";

let hub: RunningHub;
beforeAll(async () => {
  hub = await startTestHub();
}, 30_000);
afterAll(async () => {
  await hub.stop();
});

test("a published version is signed; the assignment carries the payload, the signature and the key", async () => {
  const catalog = operatorClient(hub, CatalogService);
  await catalog.createModule({ name: "signed" });
  const digest = `sha256:${"d".repeat(64)}`;
  await catalog.createModuleVersion({
    moduleName: "signed",
    version: "1",
    arch: Arch.AMD64,
    fsverityDigest: "a".repeat(64),
    verityRootHash: "b".repeat(64),
    ociDigest: digest,
  });
  const prov = operatorClient(hub, ProvisionService);
  const id =
    (await prov.createInstance({ name: "signed-node", arch: Arch.AMD64, provider: "none" })).instance?.id ??
    "";
  const r = await prov.assignModules({ instanceId: id, modules: [{ name: "signed", version: "1" }] });
  const a = r.modules[0];
  if (!a) throw new Error("no assignment");
  const payload = JSON.parse(a.signaturePayload) as {
    critical: { identity: Record<string, string>; image: Record<string, string>; type: string };
  };
  expect(payload.critical).toEqual({
    identity: { "docker-reference": "modules/signed" },
    image: { "docker-manifest-digest": digest },
    type: "cosign container image signature",
  });
  const key = hub.deps.moduleSigner.publicPem;
  expect(
    verify(
      "sha256",
      new TextEncoder().encode(a.signaturePayload),
      { key, dsaEncoding: "der" },
      Buffer.from(a.signature, "base64"),
    ),
  ).toBe(true);
  const { state } = await hub.deps.desiredState.change(id);
  expect(state.modules?.signingKeyPem).toBe(key);
  expect(state.modules?.assignments[0]?.signature).toBe(a.signature);
});
