/**
 * Kernel module resolution from depmod's text indexes (modules.dep, modules.softdep,
 * modules.alias, modules.builtin, modules.builtin.modinfo). Pure: strings in, a load order out.
 *
 * The node loads modules with plain `insmod`/`init_module` in the order computed here, so it
 * never needs depmod or modprobe at boot. Semantics follow kmod's modprobe (modprobe.d(5)):
 * hard dependencies from modules.dep load first, `softdep X pre: Y` loads Y before X and
 * `post: Z` after; a name that is not a module file is looked up as an alias; builtins are
 * already in the kernel and are skipped.
 */

/** Module name as the kernel sees it: basename without `.ko[.xz|.zst|.gz]`, `-` folded to `_`. */
export function kmodNameOf(pathOrName: string): string {
  const base = pathOrName.slice(pathOrName.lastIndexOf("/") + 1);
  return base.replace(/\.ko(\.(xz|zst|gz))?$/, "").replaceAll("-", "_");
}

/** One module file and its direct+indirect hard dependencies (paths as modules.dep lists them). */
export interface DepEntry {
  path: string;
  deps: string[];
}

export interface SoftDep {
  pre: string[];
  post: string[];
}

/** Everything depmod knows about one kernel's modules, keyed by module name. */
export interface KmodIndex {
  deps: Map<string, DepEntry>;
  softdeps: Map<string, SoftDep>;
  aliases: { pattern: string; module: string }[];
  builtin: Set<string>;
  builtinAliases: Set<string>;
}

function lines(text: string): string[] {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
}

/** Parses modules.dep: `kernel/a.ko.xz: kernel/b.ko.xz kernel/c.ko.xz`. */
export function parseModulesDep(text: string): Map<string, DepEntry> {
  const out = new Map<string, DepEntry>();
  for (const line of lines(text)) {
    const colon = line.indexOf(":");
    if (colon < 0) throw new Error(`modules.dep: no ":" in line ${JSON.stringify(line)}`);
    const path = line.slice(0, colon).trim();
    const deps = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
      .filter((d) => d !== "");
    out.set(kmodNameOf(path), { path, deps });
  }
  return out;
}

/** Parses modules.softdep: `softdep X pre: a b post: c` (names before any marker count as pre). */
export function parseModulesSoftdep(text: string): Map<string, SoftDep> {
  const out = new Map<string, SoftDep>();
  for (const line of lines(text)) {
    const [kw, mod, ...rest] = line.split(/\s+/);
    if (kw !== "softdep" || mod === undefined) continue;
    const entry = out.get(kmodNameOf(mod)) ?? { pre: [], post: [] };
    let into = entry.pre;
    for (const tok of rest) {
      if (tok === "pre:") into = entry.pre;
      else if (tok === "post:") into = entry.post;
      else into.push(tok);
    }
    out.set(kmodNameOf(mod), entry);
  }
  return out;
}

/** Parses modules.alias: `alias <pattern> <module>`. */
export function parseModulesAlias(text: string): { pattern: string; module: string }[] {
  const out: { pattern: string; module: string }[] = [];
  for (const line of lines(text)) {
    const [kw, pattern, mod] = line.split(/\s+/);
    if (kw === "alias" && pattern !== undefined && mod !== undefined) {
      out.push({ pattern, module: kmodNameOf(mod) });
    }
  }
  return out;
}

/** Parses modules.builtin (one path per line) into module names. */
export function parseModulesBuiltin(text: string): Set<string> {
  return new Set(lines(text).map(kmodNameOf));
}

/** Aliases of builtin code from modules.builtin.modinfo (NUL-separated `mod.alias=value`). */
export function parseBuiltinAliases(text: string): Set<string> {
  const out = new Set<string>();
  for (const rec of text.split("\0")) {
    const m = /^[^.=]+\.alias=(.+)$/.exec(rec);
    if (m?.[1]) out.add(m[1]);
  }
  return out;
}

/** fnmatch(3) subset used by modules.alias: `*`, `?` and `[...]`. */
export function aliasMatches(pattern: string, name: string): boolean {
  if (!/[*?[]/.test(pattern)) return pattern === name;
  let re = "^";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === "*") re += ".*";
    else if (c === "?") re += ".";
    else if (c === "[") {
      const end = pattern.indexOf("]", i + 1);
      if (end < 0) re += "\\[";
      else {
        re += `[${pattern.slice(i + 1, end).replace(/\\/g, "\\\\")}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, "\\$&");
  }
  return new RegExp(`${re}$`).test(name);
}

/** What a root name or softdep name stands for. */
type Lookup = { kind: "modules"; names: string[] } | { kind: "builtin" } | { kind: "unknown" };

function lookup(index: KmodIndex, name: string): Lookup {
  const n = kmodNameOf(name);
  if (index.deps.has(n)) return { kind: "modules", names: [n] };
  if (index.builtin.has(n)) return { kind: "builtin" };
  const viaAlias = [
    ...new Set(index.aliases.filter((a) => aliasMatches(a.pattern, name)).map((a) => a.module)),
  ];
  const present = viaAlias.filter((m) => index.deps.has(m));
  if (present.length > 0) return { kind: "modules", names: present.sort() };
  if (index.builtinAliases.has(name) || viaAlias.some((m) => index.builtin.has(m)))
    return { kind: "builtin" };
  return { kind: "unknown" };
}

/** The result of resolving a root set: files to ship, in load order, and what was skipped. */
export interface LoadPlan {
  /** modules.dep paths, every module after all of its dependencies. */
  order: string[];
  /** Root names that are compiled into the kernel (nothing to load). */
  builtin: string[];
  /** Soft dependencies that could not be found (modprobe ignores them too). */
  warnings: string[];
}

/**
 * Resolves root module names (or aliases) to a dependency-first load order.
 * Throws naming the root if a root is neither a module, an alias nor builtin.
 */
export function resolveLoadOrder(index: KmodIndex, roots: readonly string[]): LoadPlan {
  const order: string[] = [];
  const done = new Set<string>();
  const visiting = new Set<string>();
  const builtin: string[] = [];
  const warnings: string[] = [];

  const visit = (name: string, chain: string[]): void => {
    if (done.has(name)) return;
    if (visiting.has(name)) throw new Error(`module dependency cycle: ${[...chain, name].join(" -> ")}`);
    const entry = index.deps.get(name);
    if (!entry)
      throw new Error(`module ${name} (needed by ${chain.join(" -> ") || "roots"}) is not in modules.dep`);
    visiting.add(name);
    const soft = index.softdeps.get(name) ?? { pre: [], post: [] };
    for (const pre of soft.pre) visitSoft(pre, name, [...chain, name]);
    for (const dep of entry.deps) visit(kmodNameOf(dep), [...chain, name]);
    visiting.delete(name);
    done.add(name);
    order.push(entry.path);
    for (const post of soft.post) visitSoft(post, name, [...chain, name]);
  };

  const visitSoft = (softName: string, owner: string, chain: string[]): void => {
    const found = lookup(index, softName);
    if (found.kind === "modules") {
      for (const m of found.names) if (!visiting.has(m)) visit(m, chain);
    } else if (found.kind === "unknown") {
      warnings.push(`softdep ${softName} of ${owner}: no such module, alias or builtin`);
    }
  };

  for (const root of roots) {
    const found = lookup(index, root);
    if (found.kind === "builtin") builtin.push(root);
    else if (found.kind === "unknown") {
      throw new Error(`kernel module ${root}: not a module, alias or builtin of this kernel`);
    } else for (const m of found.names) visit(m, []);
  }
  return { order, builtin, warnings };
}
