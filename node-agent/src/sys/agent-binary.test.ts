/**
 * The real preflight and execve: a build is run as a child and must print its version (a script that
 * exits 70, prints nothing or prints garbage is refused, naming why); execve(2) through libc replaces
 * the process keeping its pid.
 */
import { expect, test } from "bun:test";
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BuildRefused } from "../controllers/agent-update/agent-update-controller.ts";
import { preflightAgentBuild } from "./agent-binary.ts";
import { createExeca } from "./exec.ts";

const dir = mkdtempSync(join(tmpdir(), "agent-binary-"));
const script = (name: string, body: string) => {
  const p = join(dir, name);
  writeFileSync(p, `#!/bin/sh\n${body}\n`);
  chmodSync(p, 0o755);
  return p;
};
const exec = createExeca();
const signal = new AbortController().signal;

test("a build that starts and reports its version passes", async () => {
  const p = script(
    "good",
    `[ "$1" = preflight ] || exit 9\necho 'loading...'\necho '{"version":"2.0.0","arch":"x64"}'`,
  );
  expect(await preflightAgentBuild(exec, p, signal)).toBe("2.0.0");
});

test("a build that exits at start is refused with its exit code and stderr", async () => {
  const p = script("exits", "echo 'powernode-agent: broken on purpose' >&2\nexit 70");
  const e = await preflightAgentBuild(exec, p, signal).catch((x) => x);
  expect(e).toBeInstanceOf(BuildRefused);
  expect(e.message).toBe("preflight: exited with code 70: powernode-agent: broken on purpose");
});

test("no version line, or a file that is not executable, is refused", async () => {
  const silent = script("silent", "echo hello");
  expect((await preflightAgentBuild(exec, silent, signal).catch((x) => x)).message).toStartWith(
    'preflight: no {"version": ...} line on stdout',
  );
  const data = join(dir, "data");
  writeFileSync(data, "\x7fELF garbage");
  chmodSync(data, 0o755);
  const e = await preflightAgentBuild(exec, data, signal).catch((x) => x);
  expect(e).toBeInstanceOf(BuildRefused);
  expect(e.message).toStartWith("preflight:");
});

test("execve replaces the process and keeps its pid", async () => {
  const child = join(dir, "exec-child.ts");
  writeFileSync(
    child,
    `import { execve } from ${JSON.stringify(join(import.meta.dir, "libc.ts"))};
process.stdout.write(\`before \${process.pid}\\n\`);
execve("/bin/sh", ["/bin/sh", "-c", "echo after $$ $POWERNODE_T"], { POWERNODE_T: "kept" });`,
  );
  const p = Bun.spawnSync([process.execPath, child]);
  const lines = p.stdout.toString().trim().split("\n");
  const pid = lines[0]?.split(" ")[1];
  expect(lines).toEqual([`before ${pid}`, `after ${pid} kept`]);
});

test("execve of a missing file throws, naming the errno", async () => {
  const child = join(dir, "exec-missing.ts");
  writeFileSync(
    child,
    `import { execve } from ${JSON.stringify(join(import.meta.dir, "libc.ts"))};
try { execve("/nonexistent/agent", ["/nonexistent/agent"], {}); } catch (e) { console.log(String(e)); }`,
  );
  const out = Bun.spawnSync([process.execPath, child]).stdout.toString();
  expect(out).toContain("ENOENT");
});
