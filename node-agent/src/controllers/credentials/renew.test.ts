import { expect, test } from "bun:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { MAX_REFUSED_RENEWAL_WAIT_MS, renewalTime, retryTimeOf } from "./renew.ts";

const now = new Date("2027-01-01T00:00:00Z");
const notAfter = new Date("2027-03-01T00:00:00Z");
const refused = (message: string, code = Code.FailedPrecondition) => new ConnectError(message, code);

test("the agent's default renewal time (75 %) is inside the hub's window (the last third)", () => {
  const pki = { notBefore: new Date("2027-01-01T00:00:00Z"), notAfter: new Date("2027-04-01T00:00:00Z") };
  const life = pki.notAfter.getTime() - pki.notBefore.getTime();
  expect(renewalTime(pki).getTime() - pki.notBefore.getTime()).toBeGreaterThan((life * 2) / 3);
});

test("a failed_precondition naming a later time is retried then (within the hour); anything else with the backoff", () => {
  expect(MAX_REFUSED_RENEWAL_WAIT_MS).toBe(3_600_000);
  expect(
    retryTimeOf(
      refused(
        "RenewCertificate: too early: the renewal window of certificate ab opens at 2027-01-20T10:00:00.000Z (the last third of its life)",
      ),
      now,
      notAfter,
    ),
  ).toEqual(new Date("2027-01-01T01:00:00.000Z")); // at most an hour away
  expect(
    retryTimeOf(
      refused(
        "RenewCertificate: certificate cd was issued to this node at 2026-12-31T23:59:30.000Z and is not in use yet; use it, or renew again from 2027-01-01T00:00:30.000Z",
      ),
      now,
      notAfter,
    ),
  ).toEqual(new Date("2027-01-01T00:00:30.000Z"));
  // Past, too close to expiry, another code, no time, not a ConnectError.
  expect(retryTimeOf(refused("window opens at 2026-12-31T00:00:00Z"), now, notAfter)).toBeUndefined();
  expect(retryTimeOf(refused("window opens at 2027-02-28T23:59:30Z"), now, notAfter)).toBeUndefined();
  expect(
    retryTimeOf(refused("window opens at 2027-01-20T10:00:00Z", Code.Unavailable), now, notAfter),
  ).toBeUndefined();
  expect(retryTimeOf(refused("too early"), now, notAfter)).toBeUndefined();
  expect(retryTimeOf(new Error("opens at 2027-01-20T10:00:00Z"), now, notAfter)).toBeUndefined();
});
