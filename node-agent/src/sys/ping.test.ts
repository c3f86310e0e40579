// busybox 1.35 ping: argv, and its summary as printed in the node guest (`bun scripts/wireguard-guest-check.ts`).
import { expect, test } from "bun:test";
import { createRecordingExecFake } from "./exec-fake.ts";
import { createPing, parsePingSummary, pingArgs } from "./ping.ts";

const REPLIED =
  "PING ::1 (::1): 56 data bytes\n\n--- ::1 ping statistics ---\n" +
  "1 packets transmitted, 1 packets received, 0% packet loss\nround-trip min/avg/max = 0.473/0.473/0.473 ms\n";
const LOST =
  "PING fd00:aaaa::2 (fd00:aaaa::2): 56 data bytes\n\n--- fd00:aaaa::2 ping statistics ---\n" +
  "1 packets transmitted, 0 packets received, 100% packet loss\n";
const NO_PEER = "PING fd00:aaaa::99 (fd00:aaaa::99): 56 data bytes\n";

test("ping argv: quiet, count, wait, optional source interface, IPv4 or IPv6 target", () => {
  expect(pingArgs("fd12:3456:789a:1::b", { iface: "wg-sdwan-a1b2c3", count: 3 })).toEqual([
    "-q",
    "-c",
    "3",
    "-W",
    "2",
    "-I",
    "wg-sdwan-a1b2c3",
    "fd12:3456:789a:1::b",
  ]);
  expect(pingArgs("10.0.2.2", { count: 1, waitSeconds: 5 })).toEqual([
    "-q",
    "-c",
    "1",
    "-W",
    "5",
    "10.0.2.2",
  ]);
  expect(() => pingArgs("example.org", { count: 1 })).toThrow(
    'ping target "example.org": expected an IP address',
  );
  expect(() => pingArgs("-f", { count: 1 })).toThrow("expected an IP address");
  expect(() => pingArgs("::1", { count: 0 })).toThrow("ping count 0: expected 1..100");
  expect(() => pingArgs("::1", { count: 1, waitSeconds: 0 })).toThrow("ping wait 0: expected 1..60 s");
  expect(() => pingArgs("::1", { count: 1, iface: "a b" })).toThrow('interface name "a b"');
});

test("ping summary: counts from the statistics line; none when ping could not send", () => {
  expect(parsePingSummary(REPLIED)).toEqual({ transmitted: 1, received: 1 });
  expect(parsePingSummary(LOST)).toEqual({ transmitted: 1, received: 0 });
  expect(parsePingSummary(NO_PEER)).toBeUndefined();
  expect(parsePingSummary("")).toBeUndefined();
});

test("createPing: exit 1 with a summary is a result, exit 1 without one throws with ping's stderr", async () => {
  const answers = [
    { stdout: REPLIED },
    { stdout: LOST, exitCode: 1 },
    { stdout: NO_PEER, stderr: "ping: sendto: Required key not available\n", exitCode: 1 },
  ];
  const exec = createRecordingExecFake({ ping: () => answers.shift() ?? {} });
  const ping = createPing(exec);
  expect(await ping.ping("::1", { count: 1 })).toEqual({ transmitted: 1, received: 1 });
  expect(await ping.ping("fd00:aaaa::2", { iface: "wg-a", count: 1 })).toEqual({
    transmitted: 1,
    received: 0,
  });
  await expect(ping.ping("fd00:aaaa::99", { iface: "wg-a", count: 1, waitSeconds: 1 })).rejects.toThrow(
    "ping -q -c 1 -W 1 -I wg-a fd00:aaaa::99: exit 1: ping: sendto: Required key not available",
  );
  expect(exec.calls.map((c) => c.args.at(-1))).toEqual(["::1", "fd00:aaaa::2", "fd00:aaaa::99"]);
});
