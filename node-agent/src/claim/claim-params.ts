/**
 * Whether a node with no identity may enter claim mode, and where: `powernode.claim_url=https://host:port`
 * (the hub's TLS listener) with `powernode.ca_pem=` (the hub's CA, as for an identity on the cmdline:
 * PEM, base64 of it, or URL-encoded). The CA is required: a claimed device's poll carries its
 * bootstrap token, which must not go to a hub the node cannot verify (decision 0023).
 */
import { decodeCaPem } from "../identity/parse-identity.ts";

export interface ClaimTarget {
  /** `https://host:port`, no path. */
  url: string;
  caPem: string;
}

export type ClaimParamsResult =
  | { ok: true; value: ClaimTarget }
  | { ok: false; problems: string[] }
  | undefined;

/** From the `powernode.*` parameters: undefined without `claim_url`, else the target or its problems. */
export function parseClaimParams(params: Record<string, string | undefined>): ClaimParamsResult {
  const raw = params.claim_url?.trim();
  if (!raw) return undefined;
  const problems: string[] = [];
  let url = "";
  try {
    const u = new URL(raw);
    if (u.protocol !== "https:") problems.push(`claim_url: "${raw}" must be https://`);
    else if (u.pathname !== "/" || u.search !== "")
      problems.push(`claim_url: "${raw}" must have no path or query`);
    url = u.origin;
  } catch {
    problems.push(`claim_url: "${raw}" is not a URL`);
  }
  let caPem = "";
  const caRaw = params.ca_pem?.trim() ?? "";
  if (caRaw === "") problems.push("ca_pem: missing (claim mode needs the hub's CA)");
  else {
    try {
      caPem = decodeCaPem(caRaw);
      if (!caPem.includes("-----BEGIN CERTIFICATE-----")) problems.push("ca_pem: no PEM CERTIFICATE block");
    } catch {
      problems.push("ca_pem: cannot decode (give the PEM, base64 of it, or it URL-encoded)");
    }
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, value: { url, caPem } };
}
