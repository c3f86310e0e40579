/**
 * A small typed wrapper over the `skopeo` CLI, the outside client the registry is tested against.
 * Tokens and credentials go in argv because skopeo has no stdin option for them; only throwaway test
 * tokens are used.
 */
import type { Exec, ExecResult } from "@powernode/exec";

/** Options of a skopeo call against a plain-HTTP registry. */
export interface SkopeoAuth {
  /** Bearer token for the registry (skopeo `--*-registry-token`). */
  token?: string;
}

/** Pure argument builder for `skopeo inspect`. */
export function skopeoInspectArgs(ref: string, opts: SkopeoAuth & { raw?: boolean } = {}): string[] {
  const args = ["inspect", "--tls-verify=false"];
  if (opts.raw) args.push("--raw");
  if (opts.token) args.push("--registry-token", opts.token);
  return [...args, ref];
}

/** Options of `skopeo copy`. */
export interface SkopeoCopyOptions {
  srcToken?: string;
  destToken?: string;
  /** `user:password` for the destination (`--dest-creds`, what `docker login` users pass). */
  destCreds?: string;
  /** Fail rather than recompress or convert (`--preserve-digests`). */
  preserveDigests?: boolean;
  /** Manifest type written to the destination (`--format`). */
  format?: "oci" | "v2s2";
}

/** Pure argument builder for `skopeo copy` (source and destination transports are part of the refs). */
export function skopeoCopyArgs(src: string, dest: string, opts: SkopeoCopyOptions = {}): string[] {
  const args = ["copy", "--quiet", "--src-tls-verify=false", "--dest-tls-verify=false"];
  if (opts.preserveDigests) args.push("--preserve-digests");
  if (opts.format) args.push("--format", opts.format);
  if (opts.srcToken) args.push("--src-registry-token", opts.srcToken);
  if (opts.destToken) args.push("--dest-registry-token", opts.destToken);
  if (opts.destCreds) args.push("--dest-creds", opts.destCreds);
  return [...args, src, dest];
}

/** The skopeo operations the tests use. */
export interface Skopeo {
  inspect(ref: string, opts?: SkopeoAuth & { raw?: boolean }): Promise<ExecResult>;
  copy(src: string, dest: string, opts?: SkopeoCopyOptions): Promise<ExecResult>;
}

/** Creates the skopeo wrapper over `exec`. */
export function createSkopeo(exec: Exec): Skopeo {
  return {
    inspect: (ref, opts) => exec.run("skopeo", skopeoInspectArgs(ref, opts), { timeoutMs: 30_000 }),
    copy: (src, dest, opts) => exec.run("skopeo", skopeoCopyArgs(src, dest, opts), { timeoutMs: 30_000 }),
  };
}
