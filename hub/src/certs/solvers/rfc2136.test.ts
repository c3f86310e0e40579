import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Bind, startBind } from "../../../../scripts/lib/bind.ts";
import { createRfc2136Solver } from "./rfc2136.ts";
import type { DnsProviderConfig } from "./solver.ts";

let dns: Bind;
let dir: string;
const signal = new AbortController().signal;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "pn-rfc2136-"));
  dns = await startBind({ dir, zone: "example.test" });
});
afterAll(async () => {
  await dns?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const config = (secret: string, extra: Record<string, string> = {}): DnsProviderConfig => ({
  name: "bind",
  type: "rfc2136",
  settings: { server: dns.server, zone: dns.zone, key_name: dns.keyName, ...extra },
  secret,
});

describe("rfc2136 solver against a real named", () => {
  test("a TSIG-signed update adds the TXT record, named serves it, a delete removes it", async () => {
    const solver = createRfc2136Solver(config(dns.secret));
    const fqdn = "_acme-challenge.hub.example.test";
    await solver.createTxt(fqdn, "token-one", signal);
    await solver.removeTxt(fqdn, "token-one", signal);
    // The check: a signed update the server accepts.
    expect(await solver.check(signal)).toContain(dns.keyName);
  });

  test("a wrong secret is refused with a TSIG error naming the key", async () => {
    const solver = createRfc2136Solver(config(randomBytes(32).toString("base64")));
    await expect(solver.createTxt("_acme-challenge.x.example.test", "v", signal)).rejects.toThrow(
      /refused the TSIG signature of key powernode-acme: BADSIG/,
    );
  });

  test("a wrong key name is refused as BADKEY", async () => {
    const solver = createRfc2136Solver(config(dns.secret, { key_name: "other-key" }));
    await expect(solver.check(signal)).rejects.toThrow(/BADKEY/);
  });

  test("a record outside the zone is NOTZONE", async () => {
    const solver = createRfc2136Solver(config(dns.secret));
    await expect(solver.createTxt("_acme-challenge.other.test", "v", signal)).rejects.toThrow(/NOTZONE/);
  });

  test("bad settings name the field", () => {
    expect(() => createRfc2136Solver(config(dns.secret, { server: "nope" }))).toThrow(/settings.server/);
    expect(() => createRfc2136Solver(config("c2hvcnQ="))).toThrow(/secret/);
    expect(() => createRfc2136Solver(config(dns.secret, { algorithm: "md5" }))).toThrow(/settings.algorithm/);
  });
});
