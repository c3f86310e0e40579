import { expect, test } from "bun:test";
import { assertInOrder } from "./events.ts";

test("assertInOrder accepts a subsequence and names the first missing kind", () => {
  expect(assertInOrder(["a", "x", "b", "c"], ["a", "b", "c"])).toBe("a -> b -> c");
  expect(() => assertInOrder(["b", "a", "c"], ["a", "b", "c"])).toThrow('out of order from "b"');
});
