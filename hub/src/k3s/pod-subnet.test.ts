import { expect, test } from "bun:test";
import { parsePodSubnetPrefix } from "./pod-subnet.ts";

test("pod subnet prefixes: IPv4 CIDRs without host bits", () => {
  expect(parsePodSubnetPrefix("10.42.0.0/16")).toEqual({ prefix: "10.42.0.0/16" });
  expect(parsePodSubnetPrefix("172.28.0.0/14")).toEqual({ prefix: "172.28.0.0/14" });
  expect(parsePodSubnetPrefix("10.42.1.0/16")).toEqual({ error: '"10.42.1.0/16" has host bits set' });
  expect(parsePodSubnetPrefix("10.42.0.0/30")).toHaveProperty("error");
  expect(parsePodSubnetPrefix("10.300.0.0/16")).toHaveProperty("error");
  expect(parsePodSubnetPrefix("fd00::/64")).toHaveProperty("error");
  expect(parsePodSubnetPrefix("")).toHaveProperty("error");
});
