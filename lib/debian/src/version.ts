/**
 * Debian version ordering (deb-version(7)): epoch, upstream and revision compared the way dpkg does, and
 * the relations of a `Depends` field (`<<`, `<=`, `=`, `>=`, `>>`).
 */

function order(c: string | undefined): number {
  if (c === undefined) return 0;
  if (c === "~") return -1;
  if (/[0-9]/.test(c)) return 0;
  if (/[A-Za-z]/.test(c)) return c.charCodeAt(0);
  return c.charCodeAt(0) + 256;
}

/** dpkg's verrevcmp: alternating non-digit and digit runs; `~` sorts before everything, even the end. */
function compareFragment(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    let firstDiff = 0;
    while ((i < a.length && !/[0-9]/.test(a[i] ?? "")) || (j < b.length && !/[0-9]/.test(b[j] ?? ""))) {
      const ac = order(a[i]);
      const bc = order(b[j]);
      if (ac !== bc) return ac - bc;
      i++;
      j++;
    }
    while (a[i] === "0") i++;
    while (b[j] === "0") j++;
    while (/[0-9]/.test(a[i] ?? "") && /[0-9]/.test(b[j] ?? "")) {
      if (!firstDiff) firstDiff = (a.charCodeAt(i) ?? 0) - (b.charCodeAt(j) ?? 0);
      i++;
      j++;
    }
    if (/[0-9]/.test(a[i] ?? "")) return 1;
    if (/[0-9]/.test(b[j] ?? "")) return -1;
    if (firstDiff) return firstDiff;
  }
  return 0;
}

function split(v: string): { epoch: number; upstream: string; revision: string } {
  const colon = v.indexOf(":");
  const epoch = colon >= 0 ? Number(v.slice(0, colon)) : 0;
  const rest = colon >= 0 ? v.slice(colon + 1) : v;
  const dash = rest.lastIndexOf("-");
  return dash >= 0
    ? { epoch, upstream: rest.slice(0, dash), revision: rest.slice(dash + 1) }
    : { epoch, upstream: rest, revision: "" };
}

/** Negative, zero or positive as `a` sorts before, equal to or after `b` (dpkg --compare-versions). */
export function compareDebVersions(a: string, b: string): number {
  const x = split(a);
  const y = split(b);
  if (x.epoch !== y.epoch) return x.epoch - y.epoch;
  return compareFragment(x.upstream, y.upstream) || compareFragment(x.revision, y.revision);
}

/** A version relation of a dependency. */
/** A Debian binary package name as the catalog and CVE records accept it (policy 5.6.1, at most 128). */
export const DEB_PACKAGE_NAME = /^[a-z0-9][a-z0-9+.-]{0,127}$/;

export type DebRelation = "<<" | "<=" | "=" | ">=" | ">>";

/** Whether `version` satisfies `rel target` (`<` and `>` are the obsolete spellings of `<=` and `>=`). */
export function satisfiesRelation(version: string, rel: DebRelation | "<" | ">", target: string): boolean {
  const c = compareDebVersions(version, target);
  switch (rel) {
    case "<<":
      return c < 0;
    case "<=":
    case "<":
      return c <= 0;
    case "=":
      return c === 0;
    case ">=":
    case ">":
      return c >= 0;
    case ">>":
      return c > 0;
  }
}
