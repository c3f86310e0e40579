/** Per-node desired state: compiled whole from the database by the features' section compilers, stored, streamed. */
export {
  type CompiledState,
  createDesiredStateCompiler,
  type DesiredStateCompiler,
  defineSection,
  type NodeRow,
  type SectionCompiler,
  type SectionName,
  type Tx,
} from "./compile.ts";
export {
  createDesiredStateBus,
  type DesiredStateBus,
  fromStoredDocument,
  getDesiredState,
  toStoredDocument,
} from "./store.ts";
