/**
 * Module signatures on the agent: a correctly signed assignment mounts; unsigned, signed by another
 * key, or signed for another digest is refused before anything is fetched (one event); a re-signed
 * set is taken up.
 */
import { expect, test } from "bun:test";
import { generateKeyPairSync, sign } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { DesiredStateSchema, type ModuleAssignment, ModuleAssignmentSchema } from "@powernode/proto";
import { createRecordingModuleSysFake } from "../../../test/module-sys-fake.ts";
import { createMemoryLog } from "../../log.ts";
import { createSystemClock } from "../../runtime/clock.ts";
import { createPhaseRecorder } from "../../runtime/phases.ts";
import { createModuleSet } from "./module-set.ts";
import { signatureProblem } from "./signature.ts";

const keyPair = () => generateKeyPairSync("ec", { namedCurve: "P-256" });
const hub = keyPair();
const other = keyPair();
const publicPem = hub.publicKey.export({ type: "spki", format: "pem" }).toString();
const manifestDigest = `sha256:${"e".repeat(64)}`;

function payload(digest = manifestDigest, repo = "modules/web"): string {
  return JSON.stringify({
    critical: {
      identity: { "docker-reference": repo },
      image: { "docker-manifest-digest": digest },
      type: "cosign container image signature",
    },
    optional: {},
  });
}

function signed(p = payload(), key = hub.privateKey): ModuleAssignment {
  return create(ModuleAssignmentSchema, {
    name: "web",
    version: "1",
    priority: 10,
    ociReference: `http://10.0.2.2:8080/modules/web@${manifestDigest}`,
    metadataDigest: "a".repeat(64),
    verityRootHash: "b".repeat(64),
    signaturePayload: p,
    signature: sign("sha256", new TextEncoder().encode(p), { key, dsaEncoding: "der" }).toString("base64"),
  });
}

test("signatureProblem: good, unsigned, another key, another digest or repository, bad base64", () => {
  expect(signatureProblem(signed(), publicPem)).toBeUndefined();
  expect(signatureProblem({ ...signed(), signature: "" }, publicPem)).toContain("unsigned");
  expect(signatureProblem(signed(payload(), other.privateKey), publicPem)).toBe(
    "the signature does not verify with the hub's module key",
  );
  expect(signatureProblem(signed(payload(`sha256:${"f".repeat(64)}`)), publicPem)).toContain(
    `the assignment names ${manifestDigest}`,
  );
  expect(signatureProblem(signed(payload(manifestDigest, "modules/evil")), publicPem)).toContain(
    "the signature is for modules/evil",
  );
  expect(signatureProblem({ ...signed(), signature: "!!!" }, publicPem)).toBeDefined();
});

test("the module set refuses an unsigned assignment once (event), then mounts it re-signed", async () => {
  const sys = createRecordingModuleSysFake();
  const log = createMemoryLog();
  const phases = createPhaseRecorder(createSystemClock(), log);
  let fetched = 0;
  const c = createModuleSet({
    sys,
    log,
    phases,
    arch: "amd64",
    modulesDir: "/persist/powernode/modules",
    mountDir: "/run/powernode/mnt",
    sysroot: "/sysroot",
    fetchModule: async ({ assignment: a }: { assignment: ModuleAssignment }) => {
      fetched++;
      const dir = `/persist/powernode/modules/${a.name}`;
      sys.digests.set(`${dir}/metadata.cfs`, a.metadataDigest);
      return {
        dir,
        metadata: `${dir}/metadata.cfs`,
        blob: `${dir}/blob.erofs`,
        verity: `${dir}/blob.verity`,
        manifest: {
          schemaVersion: 1,
          name: a.name,
          version: a.version,
          arch: "amd64",
          priority: a.priority,
          services: [],
          metadataDigest: a.metadataDigest,
          verityRootHash: a.verityRootHash,
          veritySalt: "",
          verityDataBlocks: 1,
          sizes: { metadata: 1, blob: 1, verity: 1 },
          sha256: { metadata: "", blob: "", verity: "" },
          source: {},
        },
      };
    },
  } as unknown as Parameters<typeof createModuleSet>[0]);
  const state = (version: number, a: ModuleAssignment) =>
    create(DesiredStateSchema, {
      version: BigInt(version),
      modules: { assignments: [a], signingKeyPem: publicPem },
    });
  const unsigned = { ...signed(), signature: "", signaturePayload: "" };
  await c.reconcile(state(1, unsigned));
  await c.reconcile(state(1, unsigned));
  expect(fetched).toBe(0);
  expect(c.observe()).toEqual([expect.objectContaining({ name: "web", state: "failed" })]);
  expect(phases.all().filter((p) => p.kind === "system.module.signature_invalid")).toHaveLength(1);
  await c.reconcile(state(2, signed()));
  expect(fetched).toBe(1);
  expect(c.appliedVersion()).toBe(2n);
  await c.stop();
});
