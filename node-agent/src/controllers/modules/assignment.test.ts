import { expect, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import { ModuleAssignmentSchema } from "@powernode/proto";
import { assignmentProblems, moduleKey, setKeyOf } from "./assignment.ts";

const a = (env: Record<string, string> = {}) =>
  create(ModuleAssignmentSchema, {
    name: "hub",
    version: "1",
    metadataDigest: "a".repeat(64),
    verityRootHash: "b".repeat(64),
    ociReference: `http://10.0.2.2:8080/modules/hub@sha256:${"c".repeat(64)}`,
    env,
  });

test("setKeyOf: the module keys, with each one's env in name order; no env, no suffix", () => {
  expect(setKeyOf([a()])).toBe(moduleKey(a()));
  expect(setKeyOf([a({ B: "2", A: "1" })])).toBe(setKeyOf([a({ A: "1", B: "2" })]));
  expect(setKeyOf([a({ A: "1" })])).not.toBe(setKeyOf([a({ A: "2" })]));
  expect(setKeyOf([a({ A: "1" })])).not.toBe(setKeyOf([a()]));
});

test("assignmentProblems: env names and values are checked at the edge", () => {
  expect(assignmentProblems(a({ GOOD_1: "x" }))).toEqual([]);
  expect(assignmentProblems(a({ "bad name": "x" }))).toEqual(['env: "bad name" is not a variable name']);
  expect(assignmentProblems(a({ A: "\0" }))).toEqual(["env.A: longer than 4096 bytes or holds NUL"]);
});
