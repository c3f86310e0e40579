/**
 * powernode-agent entry point. As PID 1 (the initramfs /init): boot the node, then run the hub session
 * forever (see boot/run-node.ts). Otherwise: the developer CLI (cli.ts).
 * Both are loaded with import() so PID 1 does not evaluate the CLI, and no top-level await, so the entry
 * also compiles with `bun build --compile --bytecode` (CommonJS).
 */
// tsyringe (under @peculiar/x509) needs the Reflect polyfill before it is evaluated; with the lazy
// imports below the bundle evaluates x509 first unless the entry loads the polyfill.
import "reflect-metadata";

function fail(err: unknown): void {
  process.stderr.write(
    `powernode-agent: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exitCode = 1;
}

if (process.pid === 1) {
  import("./boot/run-node.ts").then((m) => m.runNode(), fail);
} else {
  import("./cli.ts")
    .then(
      (m) =>
        m.runCli(process.argv.slice(2)).then((code) => {
          process.exitCode = code;
        }),
      fail,
    )
    .catch(fail);
}
