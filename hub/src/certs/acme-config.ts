/**
 * The ACME part of the hub's configuration: which directory to order from, the contact, the CA that
 * signs the ACME server's own TLS certificate (a test CA such as Pebble's), how long a renewed
 * certificate's predecessor is kept. (Which certificate the operator listener presents: operator-identity.ts.)
 */
import { existsSync, readFileSync } from "node:fs";

export interface AcmeConfig {
  /** POWERNODE_ACME_DIRECTORY_URL; undefined: no ACME (preflight says so, issuance is refused). */
  directoryUrl: string | undefined;
  /** POWERNODE_ACME_EMAIL: the account's contact. */
  email: string | undefined;
  /** POWERNODE_ACME_CA_FILE's PEM: trusted for the ACME server's TLS besides the system roots. */
  serverCaPem: string | undefined;
  /** POWERNODE_ACME_RETIRE_SECONDS (default 86400): how long a replaced version stays after a renewal. */
  retireSeconds: number;
}

export const DEFAULT_ACME: AcmeConfig = {
  directoryUrl: undefined,
  email: undefined,
  serverCaPem: undefined,
  retireSeconds: 86_400,
};

function seconds(name: string, raw: string | undefined, fallback: number, problems: string[]): number {
  if (raw === undefined || raw === "") return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > 31_536_000) {
    problems.push(`${name}: "${raw}" must be a number of seconds from 1 to 31536000`);
    return fallback;
  }
  return Number(raw);
}

/** Reads the ACME variables, adding every problem to `problems`. */
export function parseAcmeConfig(env: Record<string, string | undefined>, problems: string[]): AcmeConfig {
  const directoryUrl = env.POWERNODE_ACME_DIRECTORY_URL || undefined;
  if (directoryUrl !== undefined) {
    try {
      if (new URL(directoryUrl).protocol !== "https:")
        problems.push(`POWERNODE_ACME_DIRECTORY_URL: must be https:// (got "${directoryUrl}")`);
    } catch {
      problems.push(`POWERNODE_ACME_DIRECTORY_URL: "${directoryUrl}" is not a URL`);
    }
  }
  const email = env.POWERNODE_ACME_EMAIL || undefined;
  if (email !== undefined && !/^[^\s@]+@[^\s@]+$/.test(email))
    problems.push(`POWERNODE_ACME_EMAIL: "${email}" is not an e-mail address`);
  let serverCaPem: string | undefined;
  const caFile = env.POWERNODE_ACME_CA_FILE || undefined;
  if (caFile !== undefined) {
    if (!existsSync(caFile)) problems.push(`POWERNODE_ACME_CA_FILE: ${caFile} does not exist`);
    else {
      serverCaPem = readFileSync(caFile, "utf8");
      if (!serverCaPem.includes("-----BEGIN CERTIFICATE-----"))
        problems.push(`POWERNODE_ACME_CA_FILE: ${caFile} holds no PEM certificate`);
    }
  }
  return {
    directoryUrl,
    email,
    serverCaPem,
    retireSeconds: seconds(
      "POWERNODE_ACME_RETIRE_SECONDS",
      env.POWERNODE_ACME_RETIRE_SECONDS,
      86_400,
      problems,
    ),
  };
}
