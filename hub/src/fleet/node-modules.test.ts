import { describe, expect, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import { ModuleAssignmentSchema } from "@powernode/proto";
import { joinNodeModules } from "./node-modules.ts";

const digest = (c: string) => c.repeat(64);
const base = create(ModuleAssignmentSchema, {
  name: "system-base",
  version: "1.0",
  metadataDigest: digest("a"),
  verityRootHash: digest("b"),
});
const nginx = create(ModuleAssignmentSchema, {
  name: "nginx-light",
  version: "2.0",
  metadataDigest: digest("c"),
  verityRootHash: digest("d"),
});
const seen = (name: string, version: string, m: string, v: string, state = "mounted") => ({
  name,
  version,
  metadataDigest: m,
  verityRootHash: v,
  state,
});

describe("joinNodeModules", () => {
  test("a module mounted with the assigned digests is verified; one not reported is not", () => {
    const out = joinNodeModules([base, nginx], [seen("system-base", "1.0", digest("a"), digest("b"))]);
    expect(out.map((m) => [m.assignment.name, m.verified, m.observed?.state])).toEqual([
      ["system-base", true, "mounted"],
      ["nginx-light", false, undefined],
    ]);
  });

  test("a wrong digest, another version or a pending/failed state is not verified", () => {
    const out = joinNodeModules(
      [base, nginx],
      [
        seen("system-base", "1.0", digest("e"), digest("b")),
        seen("nginx-light", "2.0", digest("c"), digest("d"), "pending"),
      ],
    );
    expect(out.map((m) => m.verified)).toEqual([false, false]);
    const older = joinNodeModules([base], [seen("system-base", "0.9", digest("a"), digest("b"))]);
    expect(older[0]?.verified).toBe(false);
  });

  test("digests compare case-insensitively as the attestation check does", () => {
    const out = joinNodeModules([base], [seen("system-base", "1.0", digest("A"), digest("B"))]);
    expect(out[0]?.verified).toBe(true);
  });
});
