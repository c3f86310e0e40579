/**
 * How scripts/, smokes/ and bench/ run a command to completion: the shared wrapper of `@powernode/exec`
 * (argv arrays, a timeout on every call, ExecError with the command, exit code and stderr tail).
 */
import { createExec, ExecError, type ExecOptions, type ExecResult } from "@powernode/exec";

export { ExecError, type ExecOptions, type ExecResult };

const shared = createExec();

/** Runs a command to completion; throws ExecError on a non-zero exit or a timeout. */
export function run(cmd: string, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  return shared.run(cmd, args, opts);
}
