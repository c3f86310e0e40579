/**
 * Operator tokens (issue 23 item 6): `pnctl tokens ls|create|revoke` against a real hub, the verify
 * cache's TTL (a token revoked by another process is refused within it), POWERNODE_ADMIN_TOKEN
 * replacing the earlier env token, and the first-start token kept only in its 0600 file.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { FleetService, TokenService } from "@powernode/proto";
import { eq } from "drizzle-orm";
import { createTestDb, operatorClient, startTestHub, testDbKind } from "../../test/harness.ts";
import {
  ADMIN_VERIFY_TTL_MS,
  adminTokenFile,
  createAdminAuth,
  ensureAdminToken,
} from "../auth/admin-tokens.ts";
import { hashToken } from "../auth/tokens.ts";
import { runCli } from "../cli/run.ts";
import { adminTokens } from "../db/schema/index.ts";
import type { RunningHub } from "../hub.ts";

let hub: RunningHub;
let dataDir: string;
const dirs: string[] = [];
/** A temp dir removed after the file. */
const tempDir = (prefix: string) => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
};
beforeAll(async () => {
  dataDir = join(mkdtempSync(join(tmpdir(), "pn-tokens-")), "var");
  hub = await startTestHub({ dataDir });
}, 30_000);
afterAll(async () => {
  await hub.stop();
  rmSync(join(dataDir, ".."), { recursive: true, force: true });
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function cli(token: string, ...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(
    ["--url", hub.httpUrl, ...argv],
    { POWERNODE_TOKEN: token },
    { out: (l) => out.push(l), err: (l) => err.push(l) },
  );
  return { code, out: out.join("\n"), err: err.join("\n") };
}

const refused = async (token: string) =>
  operatorClient(hub, FleetService, token)
    .listNodes({})
    .then(
      () => "accepted",
      (e) => (ConnectError.from(e).code === Code.Unauthenticated ? "refused" : `other: ${e}`),
    );

describe(`operator tokens (${testDbKind})`, () => {
  test("the first-start token is only in the 0600 file; the hub says it made it", () => {
    expect(hub.adminTokenCreated).toBe(true);
    const file = adminTokenFile(dataDir);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(Bun.file(file).size).toBeGreaterThan(40);
  });

  test("pnctl tokens create, ls (name, times, the one in use), revoke: refused at once on this hub", async () => {
    const made = await cli(hub.adminToken, "tokens", "create", "ci-bot", "--json");
    expect(made.code).toBe(0);
    const created = JSON.parse(made.out) as { id: string; name: string; secret: string; lastUsedAt: string };
    expect(created).toMatchObject({ name: "ci-bot", lastUsedAt: "-" });
    expect(created.secret).toMatch(/^pna_[A-Za-z0-9_-]{43}$/);
    expect(await refused(created.secret)).toBe("accepted");

    const ls = JSON.parse((await cli(created.secret, "tokens", "ls", "--json")).out) as Array<{
      id: string;
      name: string;
      createdAt: string;
      lastUsedAt: string;
      current: boolean;
    }>;
    expect(ls.map((t) => t.name)).toEqual(["admin", "ci-bot"]);
    const bot = ls.find((t) => t.name === "ci-bot");
    expect(bot?.current).toBe(true);
    expect(ls.find((t) => t.name === "admin")?.current).toBe(false);
    expect(bot?.lastUsedAt).not.toBe("-");
    expect(Date.parse(bot?.lastUsedAt ?? "")).toBeGreaterThanOrEqual(Date.parse(bot?.createdAt ?? "") - 1000);
    const table = await cli(created.secret, "tokens", "ls");
    expect(table.out.split("\n")[0]).toMatch(/^\s+ID\s+NAME\s+CREATED\s+LAST USED$/);
    expect(table.out).toMatch(/\n\*\s+[0-9a-f-]{36}\s+ci-bot/);
    // The plaintext shows once, in create's output, and nowhere else.
    expect(table.out).not.toContain(created.secret);

    const revoked = await cli(hub.adminToken, "tokens", "revoke", "ci-bot");
    expect(revoked.code).toBe(0);
    expect(revoked.out).toBe(`revoked token "ci-bot" (${created.id})`);
    expect(await refused(created.secret)).toBe("refused");
    const all = JSON.parse((await cli(hub.adminToken, "tokens", "ls", "--all", "--json")).out) as Array<{
      name: string;
      revokedAt: string;
    }>;
    expect(all.find((t) => t.name === "ci-bot")?.revokedAt).not.toBe("-");
    // Revoked ones are left out without --all.
    const live = JSON.parse((await cli(hub.adminToken, "tokens", "ls", "--json")).out) as Array<{
      name: string;
    }>;
    expect(live.map((t) => t.name)).toEqual(["admin"]);
  });

  test("errors name the problem: reserved, duplicate and bad names, unknown token, the last live token", async () => {
    expect((await cli(hub.adminToken, "tokens", "create", "env")).err).toBe(
      'pnctl: InvalidArgument: name: "env" is reserved for the token from POWERNODE_ADMIN_TOKEN',
    );
    expect((await cli(hub.adminToken, "tokens", "create", "Bad Name")).err).toContain(
      'name: "Bad Name" is not a token name',
    );
    await cli(hub.adminToken, "tokens", "create", "twice");
    expect((await cli(hub.adminToken, "tokens", "create", "twice")).err).toContain(
      'AlreadyExists: name: a live token "twice" exists',
    );
    expect((await cli(hub.adminToken, "tokens", "revoke", "nope")).err).toBe(
      'pnctl: NotFound: token: no live token "nope"',
    );
    const missing = await cli(hub.adminToken, "tokens", "revoke");
    expect(missing).toMatchObject({ code: 2, err: "pnctl: tokens revoke: missing <name|id>" });
    await cli(hub.adminToken, "tokens", "revoke", "twice");
    const [admin] = await hub.deps.db.select().from(adminTokens).where(eq(adminTokens.name, "admin"));
    const last = await cli(hub.adminToken, "tokens", "revoke", admin?.id ?? "");
    expect(last.code).toBe(1);
    expect(last.err).toBe(
      `pnctl: FailedPrecondition: token: ${admin?.id} (admin) is the last live token; create another first (pnctl tokens create NAME)`,
    );
  });

  test("revoking the token admin.token holds removes the file; the hub then offers none", async () => {
    const spare = JSON.parse((await cli(hub.adminToken, "tokens", "create", "spare", "--json")).out) as {
      secret: string;
    };
    const r = JSON.parse((await cli(spare.secret, "tokens", "revoke", "admin", "--json")).out) as {
      tokenFileRemoved: boolean;
    };
    expect(r.tokenFileRemoved).toBe(true);
    expect(existsSync(adminTokenFile(dataDir))).toBe(false);
    expect(await refused(hub.adminToken)).toBe("refused");
    const list = (await operatorClient(hub, TokenService, spare.secret).listTokens({})).tokens;
    expect(list.map((t) => t.name)).toEqual(["spare"]);
  });
});

describe(`admin token setup and the verify cache (${testDbKind})`, () => {
  test("a token revoked by another process is refused within the cache TTL, not before", async () => {
    await using h = await createTestDb();
    const { token } = await ensureAdminToken(h.db, tempDir("pn-ttl-"));
    let clock = 1_000_000;
    const auth = createAdminAuth(h.db, { now: () => clock });
    expect(auth.ttlMs).toBe(ADMIN_VERIFY_TTL_MS);
    expect(ADMIN_VERIFY_TTL_MS).toBeLessThanOrEqual(5_000);
    expect(await auth.verify(token)).toBe(true);
    // Another hub process revokes it: this one has only its cache to go on.
    await h.db
      .update(adminTokens)
      .set({ revokedAt: new Date() })
      .where(eq(adminTokens.tokenHash, hashToken(token)));
    clock += ADMIN_VERIFY_TTL_MS - 1;
    expect(await auth.verify(token)).toBe(true);
    clock += 1;
    expect(await auth.verify(token)).toBe(false);
    // Refusals are not kept longer either: a token made elsewhere is accepted within the TTL.
    const other = "pna_made-by-another-hub-process-0123456789";
    expect(await auth.verify(other)).toBe(false);
    await h.db.insert(adminTokens).values({ tokenHash: hashToken(other), name: "other" });
    clock += ADMIN_VERIFY_TTL_MS;
    expect(await auth.verify(other)).toBe(true);
  });

  test("last use is written at most once a minute per token", async () => {
    await using h = await createTestDb();
    const { token } = await ensureAdminToken(h.db, tempDir("pn-use-"));
    let clock = Date.parse("2030-01-01T00:00:00Z");
    const auth = createAdminAuth(h.db, { now: () => clock });
    const lastUse = async () =>
      (
        await h.db
          .select()
          .from(adminTokens)
          .where(eq(adminTokens.tokenHash, hashToken(token)))
      )[0]?.lastUsedAt;
    expect(await lastUse()).toBeNull();
    await auth.verify(token);
    expect(await lastUse()).toEqual(new Date(clock));
    const first = clock;
    clock += 59_000;
    await auth.verify(token);
    expect(await lastUse()).toEqual(new Date(first));
    clock += 1_000;
    await auth.verify(token);
    expect(await lastUse()).toEqual(new Date(clock));
  });

  test("POWERNODE_ADMIN_TOKEN replaces the earlier env token; a revoked one is refused at start", async () => {
    await using h = await createTestDb();
    const dir = tempDir("pn-env-");
    const a = "pna_env-token-number-one-0123456789";
    const b = "pna_env-token-number-two-0123456789";
    expect(await ensureAdminToken(h.db, dir, a)).toMatchObject({
      token: a,
      created: false,
      replacedEnvTokens: 0,
    });
    expect(await ensureAdminToken(h.db, dir, a)).toMatchObject({ replacedEnvTokens: 0 });
    expect(await ensureAdminToken(h.db, dir, b)).toMatchObject({ token: b, replacedEnvTokens: 1 });
    const auth = createAdminAuth(h.db);
    expect(await auth.verify(a)).toBe(false);
    expect(await auth.verify(b)).toBe(true);
    // Nothing is written for an env token.
    expect(existsSync(adminTokenFile(dir))).toBe(false);
    await expect(ensureAdminToken(h.db, dir, a)).rejects.toThrow(
      /^POWERNODE_ADMIN_TOKEN: this token \(env, [0-9a-f-]{36}\) was revoked at .*; a revoked token stays revoked: set a new one$/,
    );
    // Tokens made with pnctl are not env tokens: a new env token leaves them alone.
    await h.db.insert(adminTokens).values({ tokenHash: hashToken("pna_ci-0123456789abcdef"), name: "ci" });
    await ensureAdminToken(h.db, dir, "pna_env-token-number-three-012345");
    expect(await auth.verify("pna_ci-0123456789abcdef")).toBe(true);
  });

  test("a restarted hub with an env token: the old env token stops working", async () => {
    const dir = join(mkdtempSync(join(tmpdir(), "pn-env-hub-")), "var");
    const place =
      testDbKind === "postgres" ? await createTestDb() : { url: undefined, close: async () => {} };
    try {
      const opts = { dataDir: dir, databaseUrl: place.url };
      const one = await startTestHub({ ...opts, adminToken: "pna_first-env-token-0123456789" });
      await one.stop();
      const two = await startTestHub({ ...opts, adminToken: "pna_second-env-token-0123456789" });
      try {
        expect(two.adminToken).toBe("pna_second-env-token-0123456789");
        expect(two.adminTokenCreated).toBe(false);
        expect(await two.deps.adminAuth.verify("pna_first-env-token-0123456789")).toBe(false);
        expect(await two.deps.adminAuth.verify("pna_second-env-token-0123456789")).toBe(true);
      } finally {
        await two.stop();
      }
    } finally {
      await place.close();
      rmSync(join(dir, ".."), { recursive: true, force: true });
    }
  }, 60_000);
});
