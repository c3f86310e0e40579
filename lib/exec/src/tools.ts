/**
 * Where a command is found. Tools newer than the host's Debian release ships (`private-tools.json`:
 * erofs-utils, fsverity, veritysetup) run from the clone's private tree through wrappers in `.tools/bin/`
 * that set-up writes (decision 0007); every other command is looked up on PATH as usual.
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import spec from "../private-tools.json" with { type: "json" };

/** The private tools by name. */
export const PRIVATE_TOOLS: ReadonlySet<string> = new Set(Object.keys(spec.tools));

/** `.tools/bin` of this clone, or POWERNODE_TOOLS_BIN when set. */
export function privateToolsBin(): string {
  return process.env.POWERNODE_TOOLS_BIN ?? resolve(import.meta.dir, "../../../.tools/bin");
}

/** A private tool that set-up has not unpacked. */
export class MissingToolError extends Error {
  constructor(
    readonly tool: string,
    readonly path: string,
  ) {
    super(
      `${tool}: the private ${spec.release} build is missing (${path}); run \`npm run setup\` to unpack it ` +
        "(docs/decisions/0007-private-tools.md)",
    );
    this.name = "MissingToolError";
  }
}

/** The file to execute for `cmd`: the private wrapper for a private tool, else `cmd` itself (PATH). */
export function resolveCommand(cmd: string): string {
  if (!PRIVATE_TOOLS.has(cmd)) return cmd;
  const path = join(privateToolsBin(), cmd);
  if (!existsSync(path)) throw new MissingToolError(cmd, path);
  return path;
}
