/**
 * The desired-state compiler: a node's whole document is built from the database, as the merge of
 * every feature's section compiler, inside the one transaction that bumps the node's version. Nothing
 * ever patches a stored document, so two writers of different sections can never lose each other's
 * change (see docs/decisions/0008-multi-writer-versions.md for why the order of locks makes that hold
 * with several hub processes on one PostgreSQL).
 */
import { create, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import {
  type AgentSectionSchema,
  type DebugSpecSchema,
  type DesiredState,
  DesiredStateSchema,
  type DockerSectionSchema,
  type K3sSectionSchema,
  type ModulesSectionSchema,
  type NetworkSectionSchema,
  type SdwanSectionSchema,
  type StorageSectionSchema,
} from "@powernode/proto";
import { eq, sql } from "drizzle-orm";
import type { Core } from "../core.ts";
import type { Db } from "../db/client.ts";
import { desiredStates, instances } from "../db/schema/index.ts";
import { DomainError } from "../errors.ts";
import { type DesiredStateBus, toStoredDocument } from "./store.ts";

/** A transaction (what section compilers and mutations run in). */
export type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];
/** The node's instance row, locked for the compile. */
export type NodeRow = typeof instances.$inferSelect;

interface Sections {
  modules: typeof ModulesSectionSchema;
  network: typeof NetworkSectionSchema;
  storage: typeof StorageSectionSchema;
  agent: typeof AgentSectionSchema;
  debug: typeof DebugSpecSchema;
  docker: typeof DockerSectionSchema;
  k3s: typeof K3sSectionSchema;
  sdwan: typeof SdwanSectionSchema;
}
export type SectionName = keyof Sections;
const SECTION_NAMES: readonly SectionName[] = [
  "modules",
  "network",
  "storage",
  "agent",
  "debug",
  "docker",
  "k3s",
  "sdwan",
];

/** Builds one section of a node's document from the database. */
export interface SectionCompiler<K extends SectionName = SectionName> {
  section: K;
  compile(tx: Tx, node: NodeRow, core: Core): Promise<MessageInitShape<Sections[K]>>;
}

/** Types a section compiler by its section. */
export function defineSection<K extends SectionName>(c: SectionCompiler<K>): SectionCompiler {
  return c as unknown as SectionCompiler;
}

export interface DesiredStateCompiler {
  /**
   * Runs `mutate` (the writer's own change, e.g. the instance's module list) and compiles the node's
   * document in one transaction that first locks the node's row; wakes its watchers after commit.
   * Returns the new version.
   */
  change(nodeId: string, mutate?: (tx: Tx, node: NodeRow) => Promise<void>): Promise<CompiledState>;
}

/** A compiled document and its version. */
export interface CompiledState {
  version: number;
  state: DesiredState;
}

/** A compiler over the registered sections (one compiler per section; the rest stay empty). */
export function createDesiredStateCompiler(
  core: Core,
  bus: DesiredStateBus,
  sections: readonly SectionCompiler[],
): DesiredStateCompiler {
  const { db } = core;
  const seen = new Set<string>();
  for (const s of sections) {
    if (seen.has(s.section)) throw new Error(`desired state: two compilers for section ${s.section}`);
    seen.add(s.section);
  }
  return {
    async change(nodeId, mutate) {
      const compiled = await db.transaction(async (tx): Promise<CompiledState> => {
        // The row lock comes first, so writers of one node serialise in one order (no deadlock) and
        // each compile reads every section after the previous writer committed.
        const [locked] = await tx.select().from(instances).where(eq(instances.id, nodeId)).for("update");
        if (!locked || locked.state === "deleted")
          throw new DomainError("not_found", `node ${nodeId}: no such node`);
        if (mutate) await mutate(tx, locked);
        const [node] = await tx
          .update(instances)
          .set({ desiredVersion: sql`${instances.desiredVersion} + 1`, updatedAt: new Date() })
          .where(eq(instances.id, nodeId))
          .returning();
        if (!node) throw new DomainError("not_found", `node ${nodeId}: no such node`);
        const doc = create(DesiredStateSchema, {});
        // Every section is present, empty where no compiler (or nothing) assigns it.
        for (const name of SECTION_NAMES)
          (doc as unknown as Record<string, unknown>)[name] = create(sectionSchema(doc, name), {});
        for (const s of sections) {
          const init = await s.compile(tx, node, core);
          (doc as unknown as Record<string, unknown>)[s.section] = create(
            sectionSchema(doc, s.section),
            init as MessageInitShape<DescMessage>,
          );
        }
        await tx
          .insert(desiredStates)
          .values({ instanceId: nodeId, version: node.desiredVersion, document: toStoredDocument(doc) });
        doc.version = BigInt(node.desiredVersion);
        // Hubs on the same PostgreSQL wake their watchers of this node at commit.
        await core.cluster.notify(tx, { k: "desired", node: nodeId, version: node.desiredVersion });
        return { version: node.desiredVersion, state: doc };
      });
      bus.publish(nodeId, compiled.version);
      return compiled;
    },
  };
}

/** The message schema of a section field of DesiredState. */
function sectionSchema(_doc: unknown, section: SectionName): DescMessage {
  const field = DesiredStateSchema.fields.find((f) => f.localName === section);
  if (field?.fieldKind !== "message") throw new Error(`DesiredState has no message field ${section}`);
  return field.message;
}
