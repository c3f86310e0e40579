/**
 * The controller wired as on a node, in process: the hub (fake) assigns a module through desired
 * state, the controller (recording sys fake, fake registry) mounts it, and the next heartbeats carry
 * the observation and the applied version; a refused module reaches the hub as
 * system.module_verify_failed through ReportStatus.
 */

import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import type { ModuleManifest } from "@powernode/oci";
import { ModuleAssignmentSchema } from "@powernode/proto";
import { createRecordingModuleSysFake } from "../../../test/module-sys-fake.ts";
import { publishModuleFake, startOciRegistryFake } from "../../../test/oci-registry-fake.ts";
import { startTestHubFake } from "../../../test/test-hub-fake.ts";
import { createMemoryLog } from "../../log.ts";
import { createSystemClock } from "../../runtime/clock.ts";
import { createPhaseRecorder } from "../../runtime/phases.ts";
import { startAgentSession } from "../../session/session.ts";
import { createModuleSet } from "./module-set.ts";

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

const hex = (c: string) => c.repeat(64);

test("hub assigns a module -> controller mounts it -> heartbeat reports it; a bad digest is reported as an event", async () => {
  const hub = await startTestHubFake({ heartbeatSeconds: 1 });
  cleanup.push(() => hub.stop());
  const reg = startOciRegistryFake();
  cleanup.push(() => reg.stop());
  const dir = mkdtempSync(join(tmpdir(), "pn-modsession-"));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const manifest: ModuleManifest = {
    schemaVersion: 1,
    name: "web",
    version: "1.0",
    arch: process.arch === "arm64" ? "arm64" : "amd64",
    priority: 10,
    services: [],
    metadataDigest: hex("a"),
    verityRootHash: hex("b"),
    veritySalt: "00",
    verityDataBlocks: 1,
    sizes: { metadata: 4, blob: 4096, verity: 4096 },
    sha256: { metadata: hex("1"), blob: hex("2"), verity: hex("3") },
    source: {},
  };
  const pub = publishModuleFake(reg, "modules/web", manifest, {
    metadata: new Uint8Array([1, 2, 3, 4]),
    blob: new Uint8Array(4096),
    verity: new Uint8Array(4096),
  });
  const sys = createRecordingModuleSysFake();
  sys.digests.set(join(dir, "web", pub.manifestDigest.slice(7), "metadata.cfs"), hex("a"));
  const log = createMemoryLog();
  const clock = createSystemClock();
  const phases = createPhaseRecorder(clock, log);
  const controller = createModuleSet({
    sys,
    log,
    phases,
    modulesDir: dir,
    mountDir: "/run/powernode/mnt",
    sysroot: "/sysroot",
    arch: manifest.arch,
    debug: false,
  });
  cleanup.push(() => controller.stop());
  const instanceUuid = crypto.randomUUID();
  const s = await startAgentSession({
    identity: {
      instanceUuid,
      bootstrapToken: hub.issueToken(instanceUuid),
      platformUrl: hub.url,
      caPem: hub.caPem,
    },
    stateDir: dir,
    log,
    clock,
    phases,
    modules: controller,
    moduleObserveMs: 200,
    backoff: { initialMs: 50, maxMs: 200 },
  });
  cleanup.push(() => s.stop());
  const web = create(ModuleAssignmentSchema, {
    name: "web",
    version: "1.0",
    priority: 10,
    ociReference: pub.ociReference,
    metadataDigest: hex("a"),
    verityRootHash: hex("b"),
  });
  hub.setDesiredState({ version: 5n, modules: { assignments: [web] } });
  const mounted = () =>
    hub.heartbeats.find((h) => h.req.appliedVersion === 5n && h.req.modules[0]?.state === "mounted");
  await s.waitFor("a heartbeat reporting web mounted", () => mounted() !== undefined, 15_000);
  const m = mounted()?.req.modules[0];
  expect({ ...m, $typeName: undefined }).toEqual({
    $typeName: undefined,
    name: "web",
    version: "1.0",
    metadataDigest: hex("a"),
    verityRootHash: hex("b"),
    state: "mounted",
    message: "",
  });
  expect(controller.root()).toBe("/sysroot");

  // Version 6 assigns web 1.1, whose downloaded metadata image does not hash to the assigned digest.
  const pub2 = publishModuleFake(
    reg,
    "modules/web",
    { ...manifest, version: "1.1", metadataDigest: hex("d") },
    {
      metadata: new Uint8Array([9, 9]),
      blob: new Uint8Array(4096),
      verity: new Uint8Array(4096),
    },
  );
  sys.digests.set(join(dir, "web", pub2.manifestDigest.slice(7), "metadata.cfs"), hex("9"));
  hub.setDesiredState({
    version: 6n,
    modules: {
      assignments: [{ ...web, version: "1.1", metadataDigest: hex("d"), ociReference: pub2.ociReference }],
    },
  });
  const refused = () =>
    hub.reports.flatMap((r) => r.req.events).find((e) => e.kind === "system.module_verify_failed");
  await s.waitFor("system.module_verify_failed delivered", () => refused() !== undefined, 15_000);
  expect(refused()?.payload).toEqual({ module: "web", version: "1.1", expected: hex("d"), actual: hex("9") });
  await s.waitFor(
    "a heartbeat with the failure",
    () => hub.heartbeats.some((h) => h.req.modules.some((x) => x.state === "failed")),
    15_000,
  );
  const last = hub.heartbeats.at(-1)?.req;
  expect(last?.appliedVersion).toBe(5n);
  expect(last?.modules.map((x) => [x.version, x.state, x.metadataDigest])).toEqual([
    ["1.0", "mounted", hex("a")],
    ["1.1", "failed", hex("9")],
  ]);
  await controller.stop();
}, 30_000);
