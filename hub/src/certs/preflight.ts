/**
 * The ACME preflight: the renewal job is scheduled (and its last run did not fail), the certificate
 * storage is writable, the account exists at the ACME server, and every DNS provider's credentials
 * answer. Each check is ok or FAIL with what it saw; the outcome is a fleet event.
 */
import { EVENTS } from "@powernode/proto";
import type { Deps } from "../deps.ts";
import { scheduledJob } from "../jobs/scheduler.ts";
import { checkAccount } from "./account.ts";
import { listDnsProviders, solverOf } from "./dns-providers.ts";
import { RENEWAL_JOB } from "./renewal.ts";
import { checkStorageWritable } from "./storage.ts";

export interface PreflightCheckResult {
  name: string;
  ok: boolean;
  detail: string;
}

const CHECK_TIMEOUT_MS = 15_000;

async function checked(
  name: string,
  fn: (signal: AbortSignal) => Promise<string> | string,
): Promise<PreflightCheckResult> {
  const signal = AbortSignal.timeout(CHECK_TIMEOUT_MS);
  try {
    return { name, ok: true, detail: await fn(signal) };
  } catch (e) {
    return { name, ok: false, detail: (e as Error).message };
  }
}

export async function runPreflight(deps: Deps): Promise<{ ok: boolean; checks: PreflightCheckResult[] }> {
  const checks: PreflightCheckResult[] = [];
  checks.push(
    await checked("renewal job", () => {
      const job = scheduledJob(deps, RENEWAL_JOB);
      if (!job) throw new Error(`job ${RENEWAL_JOB} is not scheduled on this hub`);
      if (job.lastError) throw new Error(`job ${RENEWAL_JOB}'s last run failed: ${job.lastError}`);
      return `${RENEWAL_JOB} every ${job.everyMs / 1000} s, ${job.runs} run(s)${job.lastRunAt ? `, last ${job.lastRunAt.toISOString()}` : ""}`;
    }),
  );
  checks.push(await checked("storage", () => checkStorageWritable(deps.config.dataDir)));
  checks.push(await checked("account", () => checkAccount(deps)));
  for (const p of await listDnsProviders(deps)) {
    checks.push(await checked(`dns provider ${p.name}`, (signal) => solverOf(deps, p).check(signal)));
  }
  const ok = checks.every((c) => c.ok);
  const failed = checks.filter((c) => !c.ok).map((c) => c.name);
  await deps.events.emit(ok ? EVENTS.acmePreflightPassed : EVENTS.acmePreflightFailed, {
    checks: checks.map((c) => ({ name: c.name, ok: c.ok })),
    ...(failed.length ? { failed } : {}),
  });
  return { ok, checks };
}
