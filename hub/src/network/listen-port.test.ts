import { expect, test } from "bun:test";
import { FIRST_LISTEN_PORT, freeListenPort } from "./networks.ts";

test("a new network gets the lowest WireGuard port no network uses (one per interface on a node)", () => {
  expect(freeListenPort([])).toBe(FIRST_LISTEN_PORT);
  expect(freeListenPort([51820])).toBe(51821);
  expect(freeListenPort([51820, 51822, 40000])).toBe(51821);
  expect(freeListenPort([51821])).toBe(51820);
});
