/**
 * ACME issuance latency against a real Pebble (Debian's pebble + challtestsrv on loopback).
 *
 *   bun bench/acme.ts [--runs 10]
 *
 * A hub in process (PGlite in memory), a challtestsrv DNS provider, the account registered before the
 * first measured run. Each run is one IssueCertificate of hub-<n>.example.test + *.nodes-<n>.example.test
 * through the hub's domain call (order, two DNS-01 challenges, validation, finalize, store with the
 * key sealed and the files written). Pebble runs with PEBBLE_VA_NOSLEEP=1 and no nonce rejection.
 * Printed: every run in ms, the median, min and max.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createDnsProvider } from "../hub/src/certs/dns-providers.ts";
import { issueCertificate } from "../hub/src/certs/index.ts";
import { runPreflight } from "../hub/src/certs/preflight.ts";
import { startHub } from "../hub/src/hub.ts";
import { startPebble } from "../scripts/lib/pebble.ts";

const i = process.argv.indexOf("--runs");
const runs = i >= 0 ? Number(process.argv[i + 1]) : 10;
if (!Number.isInteger(runs) || runs < 1)
  throw new Error(`--runs: "${process.argv[i + 1]}" is not a positive integer`);

const dir = mkdtempSync(join(tmpdir(), "pn-bench-acme-"));
const pebble = await startPebble({ dir });
const hub = await startHub({
  acme: {
    directoryUrl: pebble.directoryUrl,
    email: "bench@example.test",
    serverCaPem: pebble.listenerCaPem,
    retireSeconds: 60,
  },
});
try {
  const deps = hub.deps;
  await createDnsProvider(deps, {
    name: "ctsrv",
    type: "challtestsrv",
    settings: { url: pebble.challtestsrvUrl ?? "" },
    secret: "",
  });
  const pre = await runPreflight(deps);
  if (!pre.ok) throw new Error(`preflight: ${JSON.stringify(pre.checks)}`);
  const ms: number[] = [];
  for (let n = 0; n < runs; n++) {
    const t0 = performance.now();
    await issueCertificate(
      deps,
      { domains: [`hub-${n}.example.test`, `*.nodes-${n}.example.test`], dnsProvider: "ctsrv" },
      new AbortController().signal,
    );
    ms.push(performance.now() - t0);
  }
  const sorted = [...ms].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
  console.log(`runs (ms): ${ms.map((x) => x.toFixed(1)).join(" ")}`);
  console.log(
    `acme issuance (2 names, DNS-01 via challtestsrv, Pebble): median ${median.toFixed(1)} ms of ${runs}, min ${sorted[0]?.toFixed(1)} ms, max ${sorted[sorted.length - 1]?.toFixed(1)} ms`,
  );
} finally {
  await hub.stop();
  await pebble.stop();
  rmSync(dir, { recursive: true, force: true });
}
