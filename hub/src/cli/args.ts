/** Command-line parsing for pnctl: positionals plus `--flag value`, `--flag=value` and boolean flags. */

/** Parsed arguments. */
export interface ParsedArgs {
  positionals: string[];
  /** The last value of each flag. */
  flags: Map<string, string | true>;
  /** Every value of each flag with a value, in order (`--env A=1 --env B=2`). */
  repeated: Map<string, string[]>;
}

/** Flags that never take a value. */
const BOOLEAN_FLAGS = new Set([
  "json",
  "start",
  "persistent",
  "help",
  "all",
  "no-hub-copy",
  "no-credential",
  "synchronous",
  "image",
]);

/** Splits argv into positionals and flags; throws on a flag that needs a value and has none. */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  const positionals: string[] = [];
  const flags = new Map<string, string | true>();
  const repeated = new Map<string, string[]>();
  const set = (name: string, v: string) => {
    flags.set(name, v);
    repeated.set(name, [...(repeated.get(name) ?? []), v]);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? "";
    if (a === "-h") {
      flags.set("help", true);
    } else if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      const name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
      if (eq >= 0) set(name, a.slice(eq + 1));
      else if (BOOLEAN_FLAGS.has(name)) flags.set(name, true);
      else {
        const v = argv[i + 1];
        if (v === undefined || v.startsWith("--")) throw new Error(`--${name} needs a value`);
        set(name, v);
        i++;
      }
    } else positionals.push(a);
  }
  return { positionals, flags, repeated };
}

/** A string flag's value, or undefined. */
export function flag(args: ParsedArgs, name: string): string | undefined {
  const v = args.flags.get(name);
  return typeof v === "string" ? v : undefined;
}

/** Every value given for a repeatable flag (none: empty). */
export function flagValues(args: ParsedArgs, name: string): string[] {
  return args.repeated.get(name) ?? [];
}
