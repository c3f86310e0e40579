import { describe, expect, test } from "bun:test";
import { DomainError } from "../errors.ts";
import {
  hex64Field,
  intField,
  isUuid,
  listField,
  nameField,
  optionalUuidField,
  textField,
  uuidField,
} from "./fields.ts";

const U = "3f2c6a52-8d7e-4b1a-9c3d-2e5f7a8b9c0d";

function problem(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof DomainError && e.kind === "invalid_argument") return e.message;
    throw e;
  }
  return "accepted";
}

describe("request fields", () => {
  test("UUIDs: required, canonical, lower-cased; optional ones may be empty", () => {
    expect(uuidField("id", U.toUpperCase())).toBe(U);
    expect(isUuid(U)).toBe(true);
    expect(problem(() => uuidField("instance_id", ""))).toBe("instance_id: required");
    expect(problem(() => uuidField("instance_id", "x"))).toBe("instance_id: not a UUID");
    expect(optionalUuidField("node_id", "")).toBeUndefined();
    expect(problem(() => optionalUuidField("node_id", `${U}0`))).toBe("node_id: not a UUID");
  });

  test("text: NUL and length refused, the field named", () => {
    expect(textField("boot_id", "abc", { max: 8 })).toBe("abc");
    expect(problem(() => textField("boot_id", "a\u0000b"))).toBe("boot_id: contains a NUL character");
    expect(problem(() => textField("boot_id", "x".repeat(9), { max: 8 }))).toBe("boot_id: longer than 8");
    expect(problem(() => textField("boot_id", "", { required: true }))).toBe("boot_id: required");
  });

  test("names, digests, integers and lists", () => {
    expect(nameField("name", "web-1")).toBe("web-1");
    expect(problem(() => nameField("name", "Web", "module name"))).toBe(
      'name: "Web" is not a module name (a-z 0-9 -, at most 63)',
    );
    expect(problem(() => hex64Field("digest", "AB"))).toBe("digest: must be 64 lowercase hex characters");
    expect(intField("vcpus", 2, 1, 256)).toBe(2);
    expect(problem(() => intField("vcpus", 0.5, 1, 256))).toBe("vcpus: must be 1 to 256");
    expect(problem(() => listField("modules", [1, 2, 3], 2))).toBe("modules: more than 2");
  });
});
