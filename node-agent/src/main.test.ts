import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestHubFake } from "../test/test-hub-fake.ts";
import { createExeca, ExecError } from "./sys/exec.ts";

// The compiled binary, built as the image builder builds it: bundling changes module evaluation order
// (the Reflect polyfill must come before tsyringe), which tests of the sources cannot see.
const dir = mkdtempSync(join(tmpdir(), "pn-agent-bin-"));
const exec = createExeca();
const entry = join(import.meta.dir, "main.ts");
const compile = (out: string, extra: string[]) =>
  exec.run(
    process.execPath,
    [
      "build",
      "--compile",
      ...extra,
      "--define",
      'process.env.POWERNODE_AGENT_VERSION="9.9.9-test"',
      entry,
      "--outfile",
      out,
    ],
    { timeoutMs: 60_000 },
  );

beforeAll(async () => {
  await Promise.all([compile(join(dir, "agent"), []), compile(join(dir, "agent-bc"), ["--bytecode"])]);
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("the compiled agent (plain and --bytecode) reports the version given with --define", async () => {
  for (const bin of ["agent", "agent-bc"]) {
    expect((await exec.run(join(dir, bin), ["version"])).stdout).toBe("9.9.9-test\n");
  }
}, 30_000);

test("the compiled agent's session mode enrolls and heartbeats against the test hub fake, and stops on SIGTERM", async () => {
  const hub = await startTestHubFake({ heartbeatSeconds: 1 });
  try {
    const instanceUuid = crypto.randomUUID();
    const idFile = join(dir, "id.json");
    writeFileSync(
      idFile,
      JSON.stringify({
        instance_uuid: instanceUuid,
        bootstrap_token: hub.issueToken(instanceUuid),
        platform_url: hub.url,
        ca_pem: hub.caPem,
      }),
    );
    const stop = new AbortController();
    const run = exec.run(
      join(dir, "agent-bc"),
      ["session", "--identity-file", idFile, "--state-dir", join(dir, "state")],
      {
        signal: stop.signal,
        timeoutMs: 30_000,
      },
    );
    const end = Date.now() + 20_000;
    while (hub.reports.flatMap((r) => r.req.events).length < 3) {
      if (Date.now() > end)
        throw new Error("timed out waiting for the binary's three phase events on the hub");
      await Bun.sleep(20);
    }
    stop.abort();
    const err = await run.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ExecError);
    expect(hub.enrollments[0]).toMatchObject({ instanceUuid, agentVersion: "9.9.9-test" });
    expect(hub.heartbeats[0]?.cn).toBe(instanceUuid);
    expect((err as ExecError).stderrTail).toContain("powernode-agent: phase system.heartbeat.received at");
  } finally {
    await hub.stop();
  }
}, 30_000);
