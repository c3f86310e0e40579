/**
 * The desired-state compiler: a node's whole document is built from the database, as the merge of
 * every feature's section compiler, inside the one transaction that bumps the node's version. Nothing
 * ever patches a stored document, so two writers of different sections can never lose each other's
 * change (see docs/decisions/0008-multi-writer-versions.md for why the order of locks makes that hold
 * with several hub processes on one PostgreSQL).
 */
import { create, type DescMessage, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
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
import { and, eq, sql } from "drizzle-orm";
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
  /**
   * Called after the commit when the compiled section differs from the node's previous version of it
   * (e.g. to record that the topology changed). A failure is logged; the document stands.
   */
  changed?(core: Core, nodeId: string, section: MessageShape<Sections[K]>, version: number): Promise<void>;
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
  const watched = sections.filter((s) => s.changed);
  return {
    async change(nodeId, mutate) {
      const changedSections: SectionCompiler[] = [];
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
        const stored = toStoredDocument(doc);
        if (watched.length > 0) {
          const [prev] = await tx
            .select({ document: desiredStates.document })
            .from(desiredStates)
            .where(
              and(eq(desiredStates.instanceId, nodeId), eq(desiredStates.version, node.desiredVersion - 1)),
            );
          // Keys sorted: jsonb gives the stored document back in its own key order.
          const part = (d: unknown, name: string) =>
            canonicalJson((d as Record<string, unknown> | null | undefined)?.[name] ?? {});
          for (const s of watched)
            if (part(prev?.document, s.section) !== part(stored, s.section)) changedSections.push(s);
        }
        await tx
          .insert(desiredStates)
          .values({ instanceId: nodeId, version: node.desiredVersion, document: stored });
        doc.version = BigInt(node.desiredVersion);
        // Hubs on the same PostgreSQL wake their watchers of this node at commit.
        await core.cluster.notify(tx, { k: "desired", node: nodeId, version: node.desiredVersion });
        return { version: node.desiredVersion, state: doc };
      });
      bus.publish(nodeId, compiled.version);
      for (const s of changedSections) {
        const section = (compiled.state as unknown as Record<string, unknown>)[s.section];
        await s.changed?.(core, nodeId, section as never, compiled.version).catch((err) =>
          core.log.warn("desired state: a section's change hook failed", {
            section: s.section,
            error: err,
          }),
        );
      }
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

/** JSON text with every object's keys sorted (equal values give equal text whatever the key order). */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  if (v && typeof v === "object")
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  return JSON.stringify(v) ?? "null";
}
