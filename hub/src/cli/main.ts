/** `bun hub/src/cli/main.ts ...` (pnctl): runs the CLI against the hub; Ctrl-C ends a watch cleanly. */
import { runCli } from "./run.ts";

const ac = new AbortController();
process.once("SIGINT", () => ac.abort());
process.exitCode = await runCli(
  process.argv.slice(2),
  process.env,
  { out: (l) => process.stdout.write(`${l}\n`), err: (l) => process.stderr.write(`${l}\n`) },
  ac.signal,
);
