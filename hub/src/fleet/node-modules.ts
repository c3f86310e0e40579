/**
 * GetNodeModules: a node's assigned modules (its desired state, with the catalog's digests) beside what
 * its last heartbeat observed of each, and whether that observation verifies the assignment.
 */
import type { ModuleAssignment } from "@powernode/proto";
import { compareObservations, type ModuleObservationInput } from "../node/attestation-check.ts";

/** One assigned module with its observation. */
export interface NodeModuleView {
  assignment: ModuleAssignment;
  observed?: ModuleObservationInput;
  /** Observed mounted with the assigned version and digests. */
  verified: boolean;
}

/** Pure join: assignments in their order, each with its observation (by name) and the verdict. */
export function joinNodeModules(
  assignments: readonly ModuleAssignment[],
  observed: readonly ModuleObservationInput[],
): NodeModuleView[] {
  const byName = new Map(observed.map((o) => [o.name, o]));
  return assignments.map((a) => {
    const o = byName.get(a.name);
    const verified =
      o !== undefined &&
      o.state === "mounted" &&
      o.version === a.version &&
      compareObservations([a], [o]).length === 0;
    return o ? { assignment: a, observed: o, verified } : { assignment: a, verified };
  });
}
