/**
 * How initramfs/ runs external commands: the shared wrapper of `@powernode/exec` with a 5-minute default
 * timeout (kernel unpacking, zstd -19) and stdout as bytes where asked (`xz -dc`, `zstd -c`).
 * Injected so tests can record calls.
 */
import { type BinaryExec, createExec as createSharedExec } from "@powernode/exec";

export { type ExecBinaryResult, ExecError, type ExecOptions, type ExecResult } from "@powernode/exec";

/** Runs external commands; the real one is createExec(), tests may swap in a recording fake. */
export type Exec = BinaryExec;

/** The real Exec over execa. */
export function createExec(): Exec {
  return createSharedExec({ defaultTimeoutMs: 300_000 });
}
