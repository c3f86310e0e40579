import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { createTestDb } from "../../test/harness.ts";
import { hashToken } from "../auth/tokens.ts";
import { federationPeers } from "../db/schema/index.ts";
import { DomainError } from "../errors.ts";
import { consumeAcceptanceToken, insertProposal, transition } from "./peers.ts";
import { newAcceptanceToken } from "./token.ts";

let db: Awaited<ReturnType<typeof createTestDb>>;
const fresh = () => newAcceptanceToken({ url: "https://hub-a:8443", caSha256: "cd".repeat(32) });

async function kindOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof DomainError) return e.kind;
    throw e;
  }
  return "accepted";
}

beforeAll(async () => {
  db = await createTestDb();
});
afterAll(async () => {
  await db.close();
});

describe("federation peers", () => {
  test("the token is stored as its sha256 and consumed once: of two concurrent accepts one wins", async () => {
    const token = fresh();
    const row = await insertProposal(db.db, { name: "race", remoteUrl: "https://hub-b:8443", token });
    expect(row.tokenHash).toBe(hashToken(token));
    const results = await Promise.all([
      kindOf(consumeAcceptanceToken(db.db, token)),
      kindOf(consumeAcceptanceToken(db.db, token)),
    ]);
    expect(results.sort()).toEqual(["accepted", "already_exists"]);
  });

  test("expired, foreign and revoked-before-use tokens: each its own kind", async () => {
    const now = new Date("2027-01-01T00:00:00Z");
    const expired = fresh();
    await insertProposal(db.db, { name: "late", remoteUrl: "https://hub-b:8443", token: expired }, now);
    expect(
      await kindOf(consumeAcceptanceToken(db.db, expired, new Date(now.getTime() + 8 * 86_400_000))),
    ).toBe("precondition");
    expect(await kindOf(consumeAcceptanceToken(db.db, fresh()))).toBe("unauthenticated");
    const revoked = fresh();
    const r = await insertProposal(db.db, { name: "gone", remoteUrl: "https://hub-b:8443", token: revoked });
    await transition(db.db, r.id, ["proposed"], { state: "revoked", revokedAt: new Date() });
    expect(await kindOf(consumeAcceptanceToken(db.db, revoked))).toBe("permission");
  });

  test("transitions check the state they leave; revoked is terminal; names are unique", async () => {
    const r = await insertProposal(db.db, {
      name: "machine",
      remoteUrl: "https://hub-b:8443",
      token: fresh(),
    });
    expect(await kindOf(transition(db.db, r.id, ["accepted"], { state: "active" }))).toBe("precondition");
    await transition(db.db, r.id, ["proposed"], { state: "accepted" });
    await transition(db.db, r.id, ["accepted"], { state: "active" });
    await transition(db.db, r.id, ["active"], { state: "revoked" });
    expect(
      await kindOf(transition(db.db, r.id, ["proposed", "accepted", "active"], { state: "active" })),
    ).toBe("precondition");
    const [row] = await db.db.select().from(federationPeers).where(eq(federationPeers.id, r.id));
    expect(row?.state).toBe("revoked");
    expect(
      await kindOf(
        insertProposal(db.db, { name: "machine", remoteUrl: "https://hub-c:8443", token: fresh() }),
      ),
    ).toBe("already_exists");
  });
});
