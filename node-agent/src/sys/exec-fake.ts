/**
 * A recording fake of {@link Exec} for tests: the machine running the tests cannot have the node's
 * network or kernel, so commands are answered from a script and every call is recorded.
 */
import { type Exec, ExecError, type ExecOptions, type ExecResult } from "./exec.ts";

export interface RecordedCall {
  cmd: string;
  args: string[];
  input?: string;
}

/** Answers one command; throwing, or returning a non-zero exitCode, makes the call fail. */
export type FakeAnswer = (args: readonly string[], opts: ExecOptions) => Partial<ExecResult>;

export interface RecordingExecFake extends Exec {
  readonly calls: RecordedCall[];
}

/**
 * A fake Exec: `script[cmd]` answers; commands without an entry succeed with empty output. A non-zero
 * exit throws {@link ExecError} unless the call passed `allowFailure`, as the real one does.
 */
export function createRecordingExecFake(script: Record<string, FakeAnswer> = {}): RecordingExecFake {
  const calls: RecordedCall[] = [];
  return {
    calls,
    async run(cmd, args, opts = {}) {
      calls.push(
        opts.input === undefined ? { cmd, args: [...args] } : { cmd, args: [...args], input: opts.input },
      );
      const answer = script[cmd];
      const r: ExecResult = { stdout: "", stderr: "", exitCode: 0, ...(answer ? answer(args, opts) : {}) };
      if (r.exitCode !== 0 && !opts.allowFailure)
        throw new ExecError(cmd, args, r.exitCode, r.stderr.slice(-4096));
      return r;
    },
  };
}
