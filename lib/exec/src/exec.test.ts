import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createExec, ExecError } from "./exec.ts";
import { MissingToolError, PRIVATE_TOOLS, privateToolsBin, resolveCommand } from "./tools.ts";

const exec = createExec();

describe("createExec", () => {
  test("stdout, stdin and a clean environment", async () => {
    expect((await exec.run("cat", [], { input: "hello" })).stdout).toBe("hello");
    const env = await exec.run("env", [], { env: { ONLY: "1" }, cleanEnv: true });
    expect(env.stdout).toBe("ONLY=1\n");
  });

  test("a failure throws ExecError with the exit code and stderr tail; allowFailure returns it", async () => {
    const err = await exec.run("sh", ["-c", "echo boom >&2; exit 3"]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExecError);
    expect((err as ExecError).exitCode).toBe(3);
    expect((err as ExecError).stderrTail).toBe("boom\n");
    const r = await exec.run("sh", ["-c", "exit 4"], { allowFailure: true });
    expect(r.exitCode).toBe(4);
  });

  test("a timeout says so, even with allowFailure", async () => {
    const err = await exec
      .run("sleep", ["5"], { timeoutMs: 100, allowFailure: true })
      .catch((e: unknown) => e);
    expect(String(err)).toContain("timed out after 100 ms");
  });

  test("a missing command names itself", async () => {
    const err = await exec.run("no-such-command-here", []).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExecError);
    expect((err as ExecError).message).toStartWith("no-such-command-here: exit ?: ");
    expect((err as ExecError).message).toContain("not found");
  });

  test("runBinary keeps bytes", async () => {
    const r = await exec.runBinary("printf", ["\\377\\000\\001"]);
    expect([...r.stdoutBytes]).toEqual([255, 0, 1]);
  });
});

describe("private tools", () => {
  test("each private tool resolves to its wrapper in .tools/bin and runs the newer release", async () => {
    for (const tool of PRIVATE_TOOLS) expect(resolveCommand(tool)).toBe(join(privateToolsBin(), tool));
    // erofs-utils 1.8 (bookworm has 1.5): the version the composefs oracles and module builds need.
    const v = await exec.run("mkfs.erofs", ["--version"]);
    expect(v.stdout).toStartWith("mkfs.erofs (erofs-utils) 1.8.");
  });

  test("a private tool that set-up has not unpacked is a clear error, not the host's older one", () => {
    const empty = mkdtempSync(join(tmpdir(), "pn-tools-"));
    const before = process.env.POWERNODE_TOOLS_BIN;
    process.env.POWERNODE_TOOLS_BIN = empty;
    try {
      expect(() => resolveCommand("mkfs.erofs")).toThrow(MissingToolError);
      expect(() => resolveCommand("mkfs.erofs")).toThrow(/run `npm run setup`/);
      expect(resolveCommand("sh")).toBe("sh");
    } finally {
      if (before === undefined) delete process.env.POWERNODE_TOOLS_BIN;
      else process.env.POWERNODE_TOOLS_BIN = before;
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
