import { expect, test } from "bun:test";
import { DomainError } from "../errors.ts";
import { basebackupArgv, slotField } from "./replication.ts";

test("pg_basebackup argv: the slot, streamed WAL, recovery config, the slot as application_name", () => {
  const argv = basebackupArgv({
    parentUrl: "postgres://postgres@10.0.0.1:5432/powernode",
    slot: "member_1",
    dataDir: "/persist/pg",
  });
  expect(argv).toEqual([
    "-d",
    "postgres://postgres@10.0.0.1:5432/powernode?application_name=member_1",
    "-D",
    "/persist/pg",
    "-S",
    "member_1",
    "-X",
    "stream",
    "-R",
    "-c",
    "fast",
    "--no-sync",
  ]);
});

test("slot names: PostgreSQL's rule, refused naming the field", () => {
  for (const bad of ["", "Member", "a-b", "x".repeat(64), "a'b"]) {
    expect(() => slotField("slot", bad)).toThrow(DomainError);
  }
  expect(slotField("slot", "powernode_member_1")).toBe("powernode_member_1");
});
