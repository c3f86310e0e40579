/**
 * @powernode/exec: external commands (argv only, timeouts, one error type), long-running ones in the
 * background, private tools, the download cache.
 */

export {
  type BackgroundExit,
  type BackgroundOptions,
  type BackgroundProcess,
  startBackground,
} from "./background.ts";
export { cacheDir } from "./cache.ts";
export {
  type BinaryExec,
  type ChildTracker,
  type CreateExecOptions,
  createExec,
  type Exec,
  type ExecBinaryResult,
  ExecError,
  type ExecOptions,
  type ExecOutcome,
  type ExecResult,
  execFailure,
} from "./exec.ts";
export { MissingToolError, PRIVATE_TOOLS, privateToolsBin, resolveCommand } from "./tools.ts";
