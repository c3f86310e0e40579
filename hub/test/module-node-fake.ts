/**
 * A node faked through real heartbeats on the mTLS listener, for module rollouts without VMs: each
 * beat reports what its desired state assigns as mounted with the catalog's digests (as the agent
 * does after a live module swap), except versions named broken, which it reports failed (as the agent
 * does when the bytes do not verify). Its name says what it is: no module is mounted anywhere.
 */
import { getDesiredState } from "../src/desired-state/index.ts";
import type { RunningHub } from "../src/hub.ts";
import { type EnrolledTestNode, enrollTestNode } from "./harness.ts";

export interface ModuleNodeFake extends EnrolledTestNode {
  name: string;
  /** One heartbeat reporting the assigned modules. */
  beat(): Promise<void>;
  /** The version of `module` its desired state assigns ("" when none). */
  assigned(module: string): Promise<string>;
}

/** Enrolls an instance of `template` (provider none) and sends a first heartbeat. */
export async function moduleNodeFake(
  hub: RunningHub,
  name: string,
  template: string,
  broken: readonly string[],
): Promise<ModuleNodeFake> {
  const n = await enrollTestNode(hub, name, { template });
  const state = () => getDesiredState(hub.deps.db, n.id);
  const node: ModuleNodeFake = {
    ...n,
    name,
    async beat() {
      const modules = ((await state()).modules?.assignments ?? []).map((a) => {
        const bad = broken.includes(a.version);
        return {
          name: a.name,
          version: a.version,
          metadataDigest: a.metadataDigest,
          verityRootHash: a.verityRootHash,
          state: bad ? "failed" : "mounted",
          message: bad ? "metadata image digest mismatch" : "",
        };
      });
      await n.client.heartbeat({ bootId: `boot-${name}`, agentVersion: "test", modules });
    },
    async assigned(module) {
      return (await state()).modules?.assignments.find((a) => a.name === module)?.version ?? "";
    },
  };
  await node.beat();
  return node;
}
