/**
 * powernode-agent entry point. As PID 1 (the initramfs /init): boot the node, then run the hub session
 * forever (see boot/run-node.ts). Otherwise: the developer CLI (cli.ts).
 */
import { runNode } from "./boot/run-node.ts";
import { runCli } from "./cli.ts";

if (process.pid === 1) {
  await runNode();
} else {
  process.exitCode = await runCli(process.argv.slice(2));
}
