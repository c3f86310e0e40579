import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Pebble, startPebble } from "../../../scripts/lib/pebble.ts";
import { type RunningHub, startHub } from "../hub.ts";
import { cliFor } from "./test-cli.ts";

let pebble: Pebble;
let hub: RunningHub;
let dir: string;
const pnctl = cliFor(() => hub);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "pn-certs-cli-"));
  pebble = await startPebble({ dir });
  hub = await startHub({
    acme: {
      directoryUrl: pebble.directoryUrl,
      email: "cli@example.test",
      serverCaPem: pebble.listenerCaPem,
      retireSeconds: 60,
    },
  });
  // Pebble's start and the hub's ACME account can take several seconds on a loaded machine.
}, 30_000);
afterAll(async () => {
  await hub?.stop();
  await pebble?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("pnctl certs", () => {
  test("dns add, preflight, issue, ls, renew, revoke", async () => {
    const add = await pnctl(
      "certs",
      "dns",
      "add",
      "ctsrv",
      "--type",
      "challtestsrv",
      "--settings",
      `url=${pebble.challtestsrvUrl}`,
    );
    expect(add.code).toBe(0);
    const pre = await pnctl("certs", "preflight", "--json");
    expect(pre.code).toBe(0);
    const checks = (JSON.parse(pre.out) as { checks: { name: string; ok: boolean }[] }).checks;
    expect(checks.map((c) => [c.name, c.ok])).toEqual([
      ["renewal job", true],
      ["storage", true],
      ["account", true],
      ["dns provider ctsrv", true],
    ]);
    const issued = await pnctl(
      "certs",
      "issue",
      "cli.example.test",
      "*.cli.example.test",
      "--dns",
      "ctsrv",
      "--json",
    );
    expect(issued.code).toBe(0);
    const first = JSON.parse(issued.out) as { name: string; serial: string; status: string };
    expect(first).toMatchObject({ name: "cli.example.test", status: "valid" });
    const ls = JSON.parse((await pnctl("certs", "ls", "--json")).out) as { name: string; serial: string }[];
    expect(ls.map((c) => [c.name, c.serial])).toEqual([["cli.example.test", first.serial]]);
    const renewed = JSON.parse((await pnctl("certs", "renew", "cli.example.test", "--json")).out) as {
      serial: string;
      previousSerial: string;
      versions: number;
    };
    expect(renewed.previousSerial).toBe(first.serial);
    expect(renewed.serial).not.toBe(first.serial);
    expect(renewed.versions).toBe(2);
    const revoked = await pnctl("certs", "revoke", "cli.example.test", "--reason", "5", "--json");
    expect(revoked.code).toBe(0);
    expect((JSON.parse(revoked.out) as { revokedSerials: string[] }).revokedSerials.sort()).toEqual(
      [first.serial, renewed.serial].sort(),
    );
    expect(await pebble.certStatus(renewed.serial)).toBe("Revoked");
    expect(await pebble.certStatus(first.serial)).toBe("Revoked");
    expect(JSON.parse((await pnctl("certs", "ls", "--json")).out)).toEqual([]);
  });

  test("preflight with a provider whose server is down: exit 1, that check FAIL", async () => {
    await pnctl(
      "certs",
      "dns",
      "add",
      "down",
      "--type",
      "challtestsrv",
      "--settings",
      "url=http://127.0.0.1:9",
    );
    const pre = await pnctl("certs", "preflight", "--json");
    expect(pre.code).toBe(1);
    const checks = (JSON.parse(pre.out) as { checks: { name: string; ok: boolean }[] }).checks;
    expect(checks.find((c) => c.name === "dns provider down")?.ok).toBe(false);
    expect(checks.filter((c) => !c.ok).map((c) => c.name)).toEqual(["dns provider down"]);
    expect((await pnctl("certs", "dns", "rm", "down")).code).toBe(0);
  });

  test("bad input is refused naming the field", async () => {
    const r = await pnctl("certs", "issue", "not_a_name", "--dns", "ctsrv");
    expect(r.code).toBe(1);
    expect(r.err).toContain("domains[0]");
    const t = await pnctl("certs", "dns", "add", "x", "--type", "route53");
    expect(t.err).toContain("type:");
    const s = await pnctl("certs", "dns", "add", "y", "--type", "rfc2136", "--settings", "zone=example.test");
    expect(s.err).toContain("settings.server");
    expect((await pnctl("certs", "issue", "a.example.test")).code).toBe(2);
  });
});
