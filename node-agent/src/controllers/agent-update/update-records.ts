/**
 * The agent update's records in its directory (`/run/powernode/agent`: tmpfs, so a reboot forgets an
 * update together with the binary it staged):
 * - `<sha256>`: a staged build, verified;
 * - `trial.json`: written just before the re-exec into a new build; the new agent finds it and must
 *   heartbeat within the gate, else it re-executes `previous`;
 * - `failed.json`: the last build refused or rolled back (reported in every heartbeat, never retried).
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../../sys/files.ts";
import type { FailedAgentBuild } from "../resources.ts";

export interface Trial {
  version: string;
  sha256: string;
  /** The binary to go back to. */
  previous: string;
  previousVersion: string;
}

const HEX64 = /^[a-f0-9]{64}$/;

function readJson(path: string): Record<string, unknown> | undefined {
  if (!existsSync(path)) return undefined;
  try {
    const v: unknown = JSON.parse(readFileSync(path, "utf8"));
    return typeof v === "object" && v !== null ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined; // a torn or foreign file: as if absent
  }
}

const str = (v: unknown) => (typeof v === "string" ? v : undefined);

export function createUpdateRecords(dir: string) {
  const trialPath = join(dir, "trial.json");
  const failedPath = join(dir, "failed.json");
  const write = (path: string, v: object) => {
    mkdirSync(dir, { recursive: true });
    writeFileAtomic(path, `${JSON.stringify(v)}\n`, 0o600);
  };
  return {
    /** Where a build of this sha256 is staged. */
    binaryPath: (sha256: string) => {
      if (!HEX64.test(sha256)) throw new Error(`agent: sha256 "${sha256.slice(0, 80)}" is not 64 hex`);
      return join(dir, sha256);
    },
    trial(): Trial | undefined {
      const j = readJson(trialPath);
      const [version, sha256, previous, previousVersion] = [
        j?.version,
        j?.sha256,
        j?.previous,
        j?.previousVersion,
      ].map(str);
      if (!version || !sha256 || !previous || previousVersion === undefined) return undefined;
      return { version, sha256, previous, previousVersion };
    },
    writeTrial: (t: Trial) => write(trialPath, t),
    clearTrial: () => rmSync(trialPath, { force: true }),
    failed(): FailedAgentBuild | undefined {
      const j = readJson(failedPath);
      const [version, sha256, reason] = [j?.version, j?.sha256, j?.reason].map(str);
      if (version === undefined || !sha256 || reason === undefined) return undefined;
      return { version, sha256, reason };
    },
    writeFailed: (f: FailedAgentBuild) => write(failedPath, f),
  };
}

export type UpdateRecords = ReturnType<typeof createUpdateRecords>;
