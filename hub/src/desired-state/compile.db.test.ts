/**
 * The compiler builds whole documents in one transaction per change, so concurrent writers of different
 * sections never lose each other's change (on PostgreSQL these run on separate connections, for real).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Arch, ProvisionService } from "@powernode/proto";
import { assignTestModules, operatorClient, startTestHub, testDbKind } from "../../test/harness.ts";
import type { RunningHub } from "../hub.ts";
import { setDebugSpec } from "../provision/debug-section.ts";
import { applyModuleAssignment } from "../provision/module-assignments.ts";
import { createDesiredStateCompiler, defineSection } from "./compile.ts";
import { createDesiredStateBus, getDesiredState } from "./store.ts";

let hub: RunningHub;
beforeAll(async () => {
  hub = await startTestHub();
}, 30_000);
afterAll(async () => {
  await hub.stop();
});

const hex = (c: string) => c.repeat(64);

describe(`desired-state compiler (${testDbKind})`, () => {
  test("two concurrent writers of different sections both land, round after round", async () => {
    const { instance } = await operatorClient(hub, ProvisionService).createInstance({
      name: "two-writers",
      arch: Arch.AMD64,
      provider: "none",
    });
    const id = instance?.id ?? "";
    const names = ["m0", "m1", "m2", "m3", "m4", "m5"];
    await assignTestModules(
      hub,
      id,
      names.map((n) => ({ name: n, version: "1", metadataDigest: hex("a"), verityRootHash: hex("b") })),
    );
    const versions = new Set<number>();
    for (const [i, name] of names.entries()) {
      const [mods, dbg] = await Promise.all([
        applyModuleAssignment(hub.deps, id, [{ name, version: "1" }]),
        setDebugSpec(hub.deps, id, { read: [{ path: `/round/${i}` }] }),
      ]);
      versions.add(mods.version);
      versions.add(dbg);
      const doc = await getDesiredState(hub.deps.db, id);
      expect(doc.modules?.assignments.map((m) => m.name)).toEqual([name]);
      expect(doc.debug?.read.map((r) => r.path)).toEqual([`/round/${i}`]);
    }
    // Every change got its own version, one after the other.
    expect(versions.size).toBe(names.length * 2);
    expect(Number((await getDesiredState(hub.deps.db, id)).version)).toBe(1 + names.length * 2);
  }, 60_000);

  test("one compiler per section: a second one is refused", () => {
    const dup = defineSection({ section: "modules", compile: async () => ({}) });
    expect(() => createDesiredStateCompiler(hub.deps, createDesiredStateBus(), [dup, dup])).toThrow(
      "two compilers for section modules",
    );
  });

  test("a change of a deleted or unknown node is not_found and writes nothing", async () => {
    const err = await hub.deps.desiredState
      .change("00000000-0000-4000-8000-000000000000")
      .catch((e: Error) => e.message);
    expect(err).toBe("node 00000000-0000-4000-8000-000000000000: no such node");
  });
});
