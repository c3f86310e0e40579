/**
 * The Debian packages a module manifest's `source` records (`packages`: `name=version` separated by
 * spaces, what the builder wrote); none for a module built from a directory or a tar.
 */
export function sourcePackages(source: Record<string, string>): { name: string; version: string }[] {
  if (source.type !== "debian" || !source.packages) return [];
  return source.packages
    .split(/\s+/)
    .filter((p) => p !== "")
    .map((p) => {
      const eq = p.indexOf("=");
      return eq > 0 ? { name: p.slice(0, eq), version: p.slice(eq + 1) } : { name: p, version: "" };
    });
}
