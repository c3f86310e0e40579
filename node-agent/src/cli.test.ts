import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli, USAGE } from "./cli.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function cli(...argv: string[]): Promise<{ code: number; out: string }> {
  let out = "";
  const code = await runCli(argv, (s) => {
    out += s;
  });
  return { code, out };
}

test("--help and version", async () => {
  expect(await cli("--help")).toEqual({ code: 0, out: USAGE });
  expect(await cli("version")).toEqual({ code: 0, out: "dev\n" });
  expect((await cli()).code).toBe(2);
  expect((await cli("frobnicate")).out).toStartWith('unknown command "frobnicate"');
});

test("session rejects a bad identity file, listing every problem", async () => {
  const dir = mkdtempSync(join(tmpdir(), "pn-cli-"));
  dirs.push(dir);
  const file = join(dir, "id.json");
  writeFileSync(file, JSON.stringify({ instance_uuid: "nope", platform_url: "https://h:1" }));
  const r = await cli("session", "--identity-file", file, "--state-dir", dir);
  expect(r).toEqual({
    code: 1,
    out: `identity from file ${file}: instance_uuid: "nope" is not a UUID; bootstrap_token: missing; ca_pem: missing\n`,
  });
  expect((await cli("session", "--state-dir", dir)).out).toStartWith(
    "session needs --identity-file and --state-dir",
  );
});
