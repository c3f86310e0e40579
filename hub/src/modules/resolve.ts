/**
 * The Depends closure of a module's packages against the bookworm index: what the module must ship, minus
 * what the base module already contains, minus packages the recipe excludes (maintainer-script machinery
 * that never runs on a node), minus Essential packages (Debian packages do not declare those; busybox in
 * system-base stands in for them).
 */
import { type AptIndex, type DebDependency, type DebPackage, satisfiesRelation } from "@powernode/debian";

/** Options for {@link resolveClosure}. */
export interface ResolveOptions {
  /** Packages the base module ships (looked up in the same index), treated as installed. */
  base?: readonly string[];
  /** Names (real or virtual) treated as satisfied without shipping anything. */
  exclude?: readonly string[];
}

/** What a module ships and why other dependencies were left out. */
export interface Resolution {
  /** Packages to unpack, sorted by name. */
  packages: DebPackage[];
  /** Dependencies satisfied without shipping: name -> "base" | "excluded" | "essential". */
  omitted: Map<string, "base" | "excluded" | "essential">;
}

function fits(p: DebPackage, d: DebDependency): boolean {
  return !d.rel || !d.version || satisfiesRelation(p.version, d.rel, d.version);
}

/** Resolves the closure of `roots`; throws naming the package and dependency it cannot satisfy. */
export function resolveClosure(
  index: AptIndex,
  roots: readonly string[],
  opts: ResolveOptions = {},
): Resolution {
  const lookup = (name: string, why: string): DebPackage => {
    const p = index.packages.get(name);
    if (!p) throw new Error(`${why}: no package "${name}" for ${index.arch} in bookworm`);
    return p;
  };
  const base = new Map<string, DebPackage>();
  for (const n of opts.base ?? []) base.set(n, lookup(n, "base module"));
  const exclude = new Set(opts.exclude ?? []);
  const selected = new Map<string, DebPackage>();
  const omitted: Resolution["omitted"] = new Map();
  const queue: DebPackage[] = [];
  const select = (p: DebPackage) => {
    if (selected.has(p.name)) return;
    selected.set(p.name, p);
    queue.push(p);
  };
  for (const r of roots) select(lookup(r, "recipe packages"));

  const providedBy = (pool: Map<string, DebPackage>, d: DebDependency): boolean => {
    const real = pool.get(d.name);
    if (real && fits(real, d)) return true;
    if (d.rel) return false; // a versioned dependency on a virtual name needs a versioned Provides; keep it simple
    return (index.providers.get(d.name) ?? []).some((p) => pool.get(p.name) === p);
  };

  while (queue.length > 0) {
    const p = queue.shift() as DebPackage;
    for (const alts of p.depends) {
      const where = `${p.name} ${p.version} depends on ${alts.map(show).join(" | ")}`;
      if (alts.some((d) => providedBy(selected, d))) continue;
      const inBase = alts.find((d) => providedBy(base, d));
      if (inBase) {
        omitted.set(inBase.name, "base");
        continue;
      }
      const baseTooOld = alts.find((d) => base.has(d.name));
      const excluded = alts.find((d) => exclude.has(d.name));
      if (excluded) {
        omitted.set(excluded.name, "excluded");
        continue;
      }
      if (baseTooOld)
        throw new Error(`${where}: the base module ships ${base.get(baseTooOld.name)?.version}`);
      const essential = alts.find((d) => index.packages.get(d.name)?.essential);
      if (essential) {
        omitted.set(essential.name, "essential");
        continue;
      }
      const real = alts.find((d) => index.packages.has(d.name));
      if (real) {
        const cand = index.packages.get(real.name) as DebPackage;
        if (!fits(cand, real)) throw new Error(`${where}: bookworm has ${cand.name} ${cand.version}`);
        select(cand);
        continue;
      }
      const virtual = alts.find((d) => (index.providers.get(d.name)?.length ?? 0) > 0);
      const provider = virtual ? index.providers.get(virtual.name)?.[0] : undefined;
      if (!provider) throw new Error(`${where}: nothing in bookworm (${index.arch}) satisfies it`);
      select(provider);
    }
  }
  const packages = [...selected.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { packages, omitted };
}

function show(d: DebDependency): string {
  return d.rel ? `${d.name} (${d.rel} ${d.version})` : d.name;
}
