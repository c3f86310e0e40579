/**
 * The `debug` section: test-only hooks (DebugSpec) a node honours only when booted with
 * `powernode.debug=1`. They are kept on the instance row, so every later version carries them until
 * they are cleared (the module hooks run once per version on the node, the probes once per call here). Not part of the operator API: smokes and
 * tests call `setDebugSpec` in process.
 */
import { create, fromJson, type MessageInitShape, toJson } from "@bufbuild/protobuf";
import { DebugSpecSchema } from "@powernode/proto";
import { eq } from "drizzle-orm";
import { instances } from "../db/schema/index.ts";
import type { Deps } from "../deps.ts";
import { defineSection } from "../desired-state/index.ts";

export const debugSection = defineSection({
  section: "debug",
  async compile(_tx, node) {
    return node.debug ? fromJson(DebugSpecSchema, node.debug) : {};
  },
});

/** Sets (or with undefined clears) a node's debug hooks and compiles its desired state; returns the version. */
export async function setDebugSpec(
  deps: Pick<Deps, "desiredState">,
  nodeId: string,
  spec: MessageInitShape<typeof DebugSpecSchema> | undefined,
): Promise<number> {
  // A fresh stamp: the node runs the probes of this call once, even when the spec repeats an earlier one.
  const debug = spec
    ? toJson(DebugSpecSchema, create(DebugSpecSchema, { ...spec, run: process.hrtime.bigint() }))
    : null;
  return (
    await deps.desiredState.change(nodeId, async (tx) => {
      await tx.update(instances).set({ debug, updatedAt: new Date() }).where(eq(instances.id, nodeId));
    })
  ).version;
}
