/**
 * `npm start`'s module set: build (or reuse, modules/.out) the named in-tree recipes for the node's
 * arch, publish them to the hub (idempotent: an equal build already in the catalog is kept), and make
 * a template of them, so the demo node boots with mounted, attested modules the console can show.
 */
import { join } from "node:path";
import {
  buildRecipe,
  builtModuleDir,
  loadRecipe,
  MODULES_DIR,
  publishModule,
  recipePath,
} from "../../hub/src/modules/index.ts";
import type { operatorClients } from "../../smokes/lib/hub.ts";

/** The modules the demo node runs unless POWERNODE_START_MODULES says otherwise. */
export const DEFAULT_START_MODULES = ["system-base", "nginx-light"] as const;

/** POWERNODE_START_MODULES: a comma list of recipe names; empty or `none` for no modules. */
export function parseStartModules(v: string | undefined): string[] {
  if (v === undefined) return [...DEFAULT_START_MODULES];
  const names = v
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean);
  if (names.length === 1 && names[0] === "none") return [];
  const bad = names.filter((n) => !/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(n));
  if (bad.length > 0) throw new Error(`POWERNODE_START_MODULES: not module names: ${bad.join(", ")}`);
  return names;
}

/** The template of a module set: `demo-` and the names (so another set is another template). */
export function startTemplateName(names: readonly string[]): string {
  return `demo-${names.join("-")}`.slice(0, 63).replace(/-+$/, "");
}

export interface StartModulesOptions {
  names: readonly string[];
  arch: "amd64" | "arm64";
  hubUrl: string;
  /** The hub's CA (PEM) when its operator listener has an internal-CA certificate. */
  hubCa?: string;
  token: string;
  provision: ReturnType<typeof operatorClients>["provision"];
  /** Template to create (or reuse when it already has these modules): {@link startTemplateName}. */
  template: string;
  say(line: string): void;
}

/** Builds, publishes and templates the modules; returns the template name. */
export async function prepareStartModules(o: StartModulesOptions): Promise<string> {
  const total = o.names.length;
  for (const [i, name] of o.names.entries()) {
    const step = `module ${i + 1}/${total} ${name}`;
    const t0 = performance.now();
    o.say(`${step}: building for ${o.arch} (reused when nothing changed)`);
    const built = await buildRecipe(
      loadRecipe(recipePath(name)),
      o.arch,
      builtModuleDir(join(MODULES_DIR, ".out"), name, o.arch),
    );
    const s = ((performance.now() - t0) / 1000).toFixed(1);
    o.say(`${step}: ${built.manifest.version} ready in ${s} s; publishing to the hub`);
    const r = await publishModule(built, {
      registryUrl: o.hubUrl,
      hubUrl: o.hubUrl,
      token: o.token,
      ...(o.hubCa ? { hubCa: o.hubCa } : {}),
    });
    o.say(`${step}: published ${r.ociDigest.slice(0, 19)}…`);
  }
  const { templates } = await o.provision.listTemplates({});
  const have = templates.find((t) => t.name === o.template);
  const same =
    have &&
    have.modules.length === o.names.length &&
    have.modules.every((m, i) => m.name === o.names[i] && m.version === "");
  if (!have) {
    await o.provision.createTemplate({ name: o.template, modules: o.names.map((name) => ({ name })) });
    o.say(`template ${o.template}: ${o.names.join(", ")} (newest published versions)`);
  } else if (!same) {
    throw new Error(
      `template ${o.template} exists with other modules (${have.modules.map((m) => m.name).join(", ")}); ` +
        "remove the data dir or set POWERNODE_START_MODULES to match",
    );
  }
  return o.template;
}
