/**
 * powernode-agent entry point. As PID 1 (the initramfs /init): boot the node, then run the hub session
 * forever (see boot/run-node.ts). Otherwise: the developer CLI (cli.ts).
 * No top-level await, so the entry also compiles with `bun build --compile --bytecode` (CommonJS).
 */
import { runNode } from "./boot/run-node.ts";
import { runCli } from "./cli.ts";

if (process.pid === 1) {
  void runNode();
} else {
  runCli(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(
        `powernode-agent: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
      process.exitCode = 1;
    },
  );
}
