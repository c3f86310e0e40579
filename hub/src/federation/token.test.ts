import { describe, expect, test } from "bun:test";
import { DomainError } from "../errors.ts";
import { newAcceptanceToken, parseAcceptanceToken, peerUrlField } from "./token.ts";

const F = "ab".repeat(32);

function refusal(fn: () => unknown): DomainError {
  try {
    fn();
  } catch (e) {
    if (e instanceof DomainError) return e;
    throw e;
  }
  throw new Error("accepted");
}

describe("acceptance tokens", () => {
  test("a fresh token round-trips its URL and CA fingerprint; the secret differs each time", () => {
    const t1 = newAcceptanceToken({ url: "https://hub-a.example:8443", caSha256: F });
    const t2 = newAcceptanceToken({ url: "https://hub-a.example:8443", caSha256: F });
    expect(parseAcceptanceToken(t1)).toEqual({ url: "https://hub-a.example:8443", caSha256: F });
    expect(t1.split(".")[2]).not.toBe(t2.split(".")[2]);
  });

  test.each([
    ["", "token: required"],
    ["pnb_abc", "not an acceptance token"],
    [`pnf1.${Buffer.from("{").toString("base64url")}.${"a".repeat(43)}`, "not base64url JSON"],
    [`pnf1.${Buffer.from('{"u":"https://x"}').toString("base64url")}.${"a".repeat(43)}`, "CA fingerprint"],
    [
      `pnf1.${Buffer.from(`{"u":"http://x","f":"${F}"}`).toString("base64url")}.${"a".repeat(43)}`,
      "https://",
    ],
    [`pnf1.x.${"a".repeat(42)}`, "not an acceptance token"],
    ["x".repeat(5000), "longer than"],
  ])("refuses %#: names the field and the problem", (raw, message) => {
    const e = refusal(() => parseAcceptanceToken(raw));
    expect(e.kind).toBe("invalid_argument");
    expect(e.message).toContain(message);
  });

  test("peer URLs: https origin only", () => {
    expect(peerUrlField("u", "https://h:1/")).toBe("https://h:1");
    expect(refusal(() => peerUrlField("u", "https://h/path")).message).toContain("https://host[:port] only");
    expect(refusal(() => peerUrlField("u", "nope")).message).toContain("is not a URL");
  });
});
