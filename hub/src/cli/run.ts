/**
 * pnctl, the operator CLI: a ConnectRPC client of the hub's operator API. `runCli` is the whole program
 * (testable in process); `main.ts` only wires it to the process. Each command group is a file here and
 * one entry in GROUPS.
 */

import { agentCommands } from "./agent-commands.ts";
import { type ParsedArgs, parseArgs } from "./args.ts";
import { caCommands } from "./ca-commands.ts";
import { catalogCommands } from "./catalog-commands.ts";
import { certsCommands } from "./certs-commands.ts";
import { claimsCommands } from "./claims-commands.ts";
import { cveCommands } from "./cve-commands.ts";
import { diskImagesCommands } from "./disk-images-commands.ts";
import { dockerCommands } from "./docker-commands.ts";
import { eventsCommands } from "./events-commands.ts";
import { federationCommands } from "./federation-commands.ts";
import { imageCommands } from "./image-commands.ts";
import { instancesCommands } from "./instances-commands.ts";
import { k3sCommands } from "./k3s-commands.ts";
import { moduleCommands } from "./module-commands.ts";
import { netCommands, networksCommands } from "./net-commands.ts";
import { nodesCommands } from "./nodes-commands.ts";
import { registryCommands } from "./registry-commands.ts";
import { rolloutCommands } from "./rollout-commands.ts";
import { sdwanCommands } from "./sdwan-commands.ts";
import { type CliIo, type CommandGroup, commandContext, describeError, UsageError } from "./shared.ts";
import { storageCommands } from "./storage-commands.ts";
import { templatesCommands } from "./templates-commands.ts";
import { tokensCommands } from "./tokens-commands.ts";

export type { CliIo } from "./shared.ts";

const GROUPS: readonly CommandGroup[] = [
  nodesCommands,
  eventsCommands,
  catalogCommands,
  instancesCommands,
  templatesCommands,
  caCommands,
  moduleCommands,
  netCommands,
  networksCommands,
  tokensCommands,
  dockerCommands,
  k3sCommands,
  certsCommands,
  registryCommands,
  sdwanCommands,
  storageCommands,
  claimsCommands,
  imageCommands,
  diskImagesCommands,
  agentCommands,
  federationCommands,
  cveCommands,
  rolloutCommands,
];

const USAGE = `usage: pnctl [--url URL] [--hub-ca FILE] [--token TOKEN] <command> [--json]
${GROUPS.map((g) => g.usage).join("\n")}
URL: --url, $POWERNODE_URL, default https://127.0.0.1:8080
CA: --hub-ca, $POWERNODE_CA_FILE, or $POWERNODE_DATA/ca.pem (the hub's internal CA; none: system trust)
TOKEN: --token, $POWERNODE_TOKEN, or $POWERNODE_DATA/admin.token (default ./var/admin.token)`;

/** Runs pnctl with `argv` (without the program name); returns the exit code. */
export async function runCli(
  argv: readonly string[],
  env: Record<string, string | undefined>,
  io: CliIo,
  signal?: AbortSignal,
): Promise<number> {
  let args: ParsedArgs;
  try {
    args = parseArgs(argv);
  } catch (e) {
    io.err(`pnctl: ${(e as Error).message}`);
    return 2;
  }
  const [name, verb, ...rest] = args.positionals;
  if (args.flags.has("help") || !name) {
    (name ? io.out : io.err)(USAGE);
    return name ? 0 : 2;
  }
  const group = GROUPS.find((g) => g.name === name);
  if (!group) {
    io.err(`pnctl: unknown command "${[name, verb].filter(Boolean).join(" ")}"\n${USAGE}`);
    return 2;
  }
  const ctx = commandContext({ verb, rest, args, env, io, signal });
  try {
    return await group.run(ctx);
  } catch (e) {
    if (signal?.aborted) return 0;
    io.err(`pnctl: ${describeError(e, ctx.url)}`);
    return e instanceof UsageError ? 2 : 1;
  }
}
