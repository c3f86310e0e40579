import { describe, expect, test } from "bun:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { CONNECT_CODE_BY_KIND, DomainError, type DomainErrorKind, toConnectError } from "./errors.ts";

describe("toConnectError", () => {
  test.each(Object.entries(CONNECT_CODE_BY_KIND) as [DomainErrorKind, Code][])(
    "%s -> code %i",
    (kind, code) => {
      const ce = toConnectError(new DomainError(kind, "field: reason"));
      expect({ code: ce.code, message: ce.rawMessage }).toEqual({ code, message: "field: reason" });
    },
  );

  test("unexpected errors become Internal without leaking their message", () => {
    const ce = toConnectError(new Error("password=hunter2 in a stack"));
    expect({ code: ce.code, message: ce.rawMessage }).toEqual({
      code: Code.Internal,
      message: "internal error",
    });
  });

  test("ConnectErrors pass through", () => {
    const orig = new ConnectError("x", Code.Unavailable);
    expect(toConnectError(orig)).toBe(orig);
  });
});
