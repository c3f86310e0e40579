/**
 * pnctl against an HTTPS operator listener (decision 0026): the hub's CA from --hub-ca,
 * $POWERNODE_CA_FILE or $POWERNODE_DATA/ca.pem; without it an error naming the fix; http:// to the
 * HTTPS port an error naming the scheme; a bad CA file named.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { quietLog } from "../../test/harness.ts";
import { type RunningHub, startHub } from "../hub.ts";
import { caFile } from "../operator-listener.ts";
import { runCli } from "./run.ts";

let hub: RunningHub;
let work: string;
beforeAll(async () => {
  hub = await startHub({ operatorTls: true, listenHost: "127.0.0.1", log: quietLog, providers: [] });
  work = mkdtempSync(join(tmpdir(), "pn-cli-tls-"));
}, 30_000);
afterAll(async () => {
  await hub.stop();
  rmSync(work, { recursive: true, force: true });
});

async function cli(argv: string[], env: Record<string, string | undefined>) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(
    argv,
    { POWERNODE_TOKEN: hub.adminToken, POWERNODE_DATA: work, ...env },
    { out: (l) => out.push(l), err: (l) => err.push(l) },
  );
  return { code, out: out.join("\n"), err: err.join("\n") };
}

describe("pnctl over HTTPS", () => {
  test("trusts the CA from --hub-ca, $POWERNODE_CA_FILE or the data dir's ca.pem", async () => {
    const ca = caFile(hub.deps.config.dataDir);
    const byFlag = await cli(["--url", hub.httpUrl, "--hub-ca", ca, "nodes", "ls", "--json"], {});
    expect([byFlag.code, byFlag.err]).toEqual([0, ""]);
    expect(JSON.parse(byFlag.out)).toEqual([]);
    const byEnv = await cli(["nodes", "ls", "--json"], { POWERNODE_URL: hub.httpUrl, POWERNODE_CA_FILE: ca });
    expect(byEnv.code).toBe(0);
    const byDataDir = await cli(["--url", hub.httpUrl, "nodes", "ls", "--json"], {
      POWERNODE_DATA: hub.deps.config.dataDir,
    });
    expect(byDataDir.code).toBe(0);
  });

  test("without the CA, with http:// or with a bad CA file: one line naming the fix", async () => {
    const untrusted = await cli(["--url", hub.httpUrl, "nodes", "ls"], {});
    expect(untrusted.code).toBe(1);
    expect(untrusted.err).toMatch(
      /^pnctl: hub at https:\/\/127\.0\.0\.1:\d+: its certificate is not trusted \([A-Z_]+\); pass --hub-ca/,
    );
    const plain = await cli(["--url", hub.httpUrl.replace("https:", "http:"), "nodes", "ls"], {});
    expect(plain.code).toBe(1);
    expect(plain.err).toContain("the operator listener speaks HTTPS by default, use https://");
    const notPem = join(work, "not.pem");
    writeFileSync(notPem, "hello\n");
    const bad = await cli(["--url", hub.httpUrl, "--hub-ca", notPem, "nodes", "ls"], {});
    expect([bad.code, bad.err]).toEqual([1, `pnctl: --hub-ca ${notPem}: not a PEM certificate`]);
    const missing = await cli(["--url", hub.httpUrl, "--hub-ca", join(work, "nope.pem"), "nodes", "ls"], {});
    expect(missing.err).toBe(`pnctl: --hub-ca ${join(work, "nope.pem")}: no such file`);
  });
});
