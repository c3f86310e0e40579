/**
 * The frame of a smoke pass: tier gate, one line per check (`ok`/`FAIL` + what was compared), a state
 * sidecar, artifacts kept on failure, and the closing line `N passed, N failed`.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type PassArgs, parsePassArgs, type Tier, tierAtLeast } from "./args.ts";

const root = join(import.meta.dir, "../..");

export interface PassContext {
  args: PassArgs;
  /** Runs one check: prints `ok <name> (<detail>)` or `FAIL <name>: <error>`; never throws. */
  check(name: string, fn: () => Promise<string | undefined> | string | undefined): Promise<boolean>;
  /** Runs a step whose failure makes the rest pointless: a failure is counted, then the pass stops. */
  step<T>(name: string, fn: () => Promise<T>): Promise<T>;
  /** Prints a line of information (timings, paths). */
  info(line: string): void;
  /** Registers a file to show (path printed) when the pass fails: hub log, serial logs. */
  keepOnFailure(label: string, path: string): void;
  /** Registers cleanup, run in reverse order at the end unless --keep. */
  defer(fn: () => Promise<void> | void): void;
  /** The sidecar state of this pass (`smokes/out/state/pass<N>.json`). */
  state: Record<string, unknown>;
  saveState(): void;
  /** A scratch directory for this run under smokes/out/. */
  outDir: string;
}

export interface PassDefinition {
  id: number;
  /** Name in the header, out dir and state file (default `pass<id>`), e.g. "modules". */
  label?: string;
  title: string;
  /** Lowest tier at which the pass does anything. */
  minTier: Tier;
  run(t: PassContext): Promise<void>;
}

class StopPass extends Error {}

/** Runs a pass from the command line and exits with its status. */
export async function runPass(def: PassDefinition, argv = process.argv.slice(2)): Promise<never> {
  let args: PassArgs;
  try {
    args = parsePassArgs(argv);
  } catch (err) {
    console.error(`${def.label ?? `pass${def.id}`}: ${errorChain(err)}`);
    process.exit(2);
  }
  const label = def.label ?? `pass${def.id}`;
  console.log(`${def.label ?? `pass ${def.id}`}: ${def.title} (tier ${args.tier}, arch ${args.arch})`);
  if (!tierAtLeast(args.tier, def.minTier)) {
    console.log(`skipped (needs --tier ${def.minTier})`);
    process.exit(0);
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const outDir = join(root, "smokes/out", `${label}-${args.tier}-${args.arch}-${stamp}`);
  mkdirSync(outDir, { recursive: true });
  const statePath = join(root, "smokes/out/state", `${label}.json`);
  mkdirSync(join(root, "smokes/out/state"), { recursive: true });
  const state: Record<string, unknown> =
    !args.fresh && existsSync(statePath)
      ? (JSON.parse(readFileSync(statePath, "utf8")) as Record<string, unknown>)
      : {};
  let passed = 0;
  let failed = 0;
  const kept: Array<[string, string]> = [];
  const cleanups: Array<() => Promise<void> | void> = [];
  const fail = (name: string, err: unknown) => {
    failed++;
    console.log(`FAIL ${name}: ${errorChain(err)}`);
  };
  const t: PassContext = {
    args,
    outDir,
    state,
    saveState: () => writeFileSync(statePath, `${JSON.stringify(state, null, 2)}\n`),
    info: (line) => console.log(`     ${line}`),
    keepOnFailure: (label, path) => kept.push([label, path]),
    defer: (fn) => cleanups.push(fn),
    async check(name, fn) {
      try {
        const detail = await fn();
        passed++;
        console.log(`ok   ${name}${detail ? ` (${detail})` : ""}`);
        return true;
      } catch (err) {
        fail(name, err);
        return false;
      }
    },
    async step(name, fn) {
      try {
        const v = await fn();
        passed++;
        console.log(`ok   ${name}`);
        return v;
      } catch (err) {
        fail(name, err);
        throw new StopPass(name);
      }
    },
  };
  try {
    await def.run(t);
  } catch (err) {
    if (!(err instanceof StopPass)) fail("pass aborted", err);
  } finally {
    if (!args.keep) {
      for (const fn of cleanups.reverse()) {
        try {
          await fn();
        } catch (err) {
          console.log(`     cleanup failed: ${(err as Error).message}`);
        }
      }
    } else {
      console.log(`     --keep: left VMs, hub and ${outDir} in place`);
    }
  }
  if (failed > 0) {
    console.log("     kept for inspection:");
    for (const [label, path] of kept) console.log(`       ${label}: ${path}`);
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}

/** Declares a pass; `bun smokes/passN.ts` runs it when executed directly. */
export function definePass(def: PassDefinition): PassDefinition {
  return def;
}

/** An error's message with its causes ("building the image: stage kernel modules: xz -dc ...: not found"). */
export function errorChain(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err, depth = 0; e !== undefined && depth < 8; depth++) {
    const msg = e instanceof Error ? e.message : String(e);
    if (!parts.some((p) => p.includes(msg))) parts.push(msg);
    e = e instanceof Error ? e.cause : undefined;
  }
  return parts.join(": ");
}
