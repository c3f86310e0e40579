/**
 * The OS side of agent self-update: fetching a build from the hub registry (verified against the
 * section's size and sha256) and its preflight, one run of the new binary as a child
 * (`<binary> preflight`), which must exit 0 printing `{"version": ...}` (node-agent/src/preflight.ts).
 */
import { chmodSync } from "node:fs";
import { fetchBlobToFile, OciClientError } from "@powernode/oci";
import type { AgentSection } from "@powernode/proto";
import { BuildRefused } from "../controllers/agent-update/agent-update-controller.ts";
import type { Exec } from "./exec.ts";

/** Longest a preflight may take (Bun starts in ~1-2 s under TCG; the controllers' code loads after). */
export const PREFLIGHT_TIMEOUT_MS = 120_000;

const BLOB_URL = /^(https?:\/\/[^/]+)\/v2\/(.+)\/blobs\/(sha256:[a-f0-9]{64})$/;

/** Downloads the section's binary to `dest` (executable); BuildRefused when it is not what it names. */
export async function downloadAgentBuild(
  section: AgentSection,
  dest: string,
  fetch: typeof globalThis.fetch,
  signal: AbortSignal,
): Promise<void> {
  const m = BLOB_URL.exec(section.url);
  if (!m?.[1] || !m[2] || !m[3])
    throw new BuildRefused(`agent.url: "${section.url.slice(0, 120)}" is not a registry blob URL`);
  if (m[3] !== `sha256:${section.sha256}`)
    throw new BuildRefused(`agent.url names ${m[3]}, agent.sha256 is ${section.sha256}`);
  try {
    await fetchBlobToFile(m[1], m[2], m[3], dest, { fetch, size: Number(section.size), signal });
  } catch (e) {
    // A wrong digest or an oversized blob is the build's fault; anything else (the hub away) is retried.
    if (e instanceof OciClientError && e.kind !== "http") throw new BuildRefused(`download: ${e.message}`);
    throw e;
  }
  chmodSync(dest, 0o755);
}

/** Runs `path preflight`; the version it reports, or BuildRefused naming the exit code and stderr. */
export async function preflightAgentBuild(exec: Exec, path: string, signal: AbortSignal): Promise<string> {
  let r: Awaited<ReturnType<Exec["run"]>>;
  try {
    r = await exec.run(path, ["preflight"], { signal, timeoutMs: PREFLIGHT_TIMEOUT_MS, allowFailure: true });
  } catch (e) {
    if (signal.aborted) throw e;
    throw new BuildRefused(`preflight: ${e instanceof Error ? e.message : String(e)}`.slice(0, 400));
  }
  if (r.exitCode !== 0)
    throw new BuildRefused(
      `preflight: exited with code ${r.exitCode}${r.stderr.trim() ? `: ${r.stderr.trim().slice(-200)}` : ""}`,
    );
  try {
    const v: unknown = JSON.parse(r.stdout.trim().split("\n").at(-1) ?? "");
    const version = (v as { version?: unknown }).version;
    if (typeof version === "string") return version;
  } catch {
    // reported below
  }
  throw new BuildRefused(
    `preflight: no {"version": ...} line on stdout (got ${JSON.stringify(r.stdout.slice(0, 80))})`,
  );
}
