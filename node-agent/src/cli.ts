/**
 * The agent when it is not PID 1 (a developer's machine, a shell on a node): `session` runs the hub
 * session against an identity file, with no OS side effects beyond the state dir.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { parseIdentity } from "./identity/parse-identity.ts";
import { createLog, stderrSink } from "./log.ts";
import { startAgentSession } from "./session/session.ts";
import { AGENT_VERSION } from "./version.ts";

export const USAGE = `powernode-agent ${AGENT_VERSION}

As PID 1 (the initramfs /init) it boots the node and runs its hub session. Otherwise:

  powernode-agent session --identity-file <file.json> --state-dir <dir>
                          [--backoff-initial-ms <ms>] [--backoff-max-ms <ms>]
      Run the hub session (Enroll, Heartbeat, WatchDesiredState, ReportStatus) in the foreground.
      The identity file is JSON with the fw-cfg keys:
      {"instance_uuid": "...", "bootstrap_token": "...", "platform_url": "https://host:port", "ca_pem": "-----BEGIN..."}
  powernode-agent version
  powernode-agent preflight
      Load everything PID 1 runs and print {"version", "arch"} as JSON (the self-update check a
      running agent makes of a new build before it re-executes into it).
  powernode-agent --help
`;

/** Runs a CLI command; resolves with the exit code (session only resolves on SIGINT/SIGTERM). */
export async function runCli(
  argv: readonly string[],
  out: (s: string) => void = (s) => process.stdout.write(s),
): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === "--help" || cmd === "-h" || cmd === "help") {
    out(USAGE);
    return cmd === undefined ? 2 : 0;
  }
  if (cmd === "version" || cmd === "--version") {
    out(`${AGENT_VERSION}\n`);
    return 0;
  }
  if (cmd === "preflight") {
    // The code PID 1 evaluates after boot: a build that cannot load it fails here, not as PID 1.
    const [{ agentControllers }] = await Promise.all([
      import("./controllers/index.ts"),
      import("./runtime/engine.ts"),
      import("./boot/run-node.ts"),
    ]);
    if (typeof agentControllers !== "function") return 1;
    out(`${JSON.stringify({ version: AGENT_VERSION, arch: process.arch })}\n`);
    return 0;
  }
  if (cmd !== "session") {
    out(`unknown command "${cmd}"\n\n${USAGE}`);
    return 2;
  }
  const { values } = parseArgs({
    args: [...rest],
    options: {
      "identity-file": { type: "string" },
      "state-dir": { type: "string" },
      "backoff-initial-ms": { type: "string" },
      "backoff-max-ms": { type: "string" },
    },
    strict: true,
  });
  const file = values["identity-file"];
  const stateDir = values["state-dir"];
  if (!file || !stateDir) {
    out(`session needs --identity-file and --state-dir\n\n${USAGE}`);
    return 2;
  }
  let raw: Record<string, string>;
  try {
    raw = JSON.parse(readFileSync(file, "utf8")) as Record<string, string>;
  } catch (err) {
    out(`${file}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  const parsed = parseIdentity(raw, `file ${file}`);
  if (!parsed.ok) {
    out(`${parsed.error.message}\n`);
    return 1;
  }
  const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  const session = await startAgentSession({
    identity: parsed.value,
    stateDir,
    log: createLog(stderrSink),
    backoff: { initialMs: num(values["backoff-initial-ms"]), maxMs: num(values["backoff-max-ms"]) },
  });
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  await session.stop();
  return 0;
}
