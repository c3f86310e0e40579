import { expect, test } from "bun:test";
import { IdentityError } from "../identity/parse-identity.ts";
import { describePanic } from "./panic.ts";
import { BootError } from "./sequencer.ts";

test("a fatal boot error is printed with every problem of its cause", () => {
  const err = new BootError("identity", "discoverIdentity", {
    cause: new IdentityError("fw-cfg", ["bootstrap_token: missing", "ca_pem: missing"]),
  });
  expect(describePanic(err)).toEqual([
    "boot phase identity, task discoverIdentity: identity from fw-cfg: bootstrap_token: missing; ca_pem: missing",
    "  - bootstrap_token: missing",
    "  - ca_pem: missing",
  ]);
});
