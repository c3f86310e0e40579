import { expect, test } from "bun:test";
import {
  chownSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { seedTree } from "./module-sys.ts";

test("seedTree copies what the target lacks with modes and owners, and keeps what it has", () => {
  const dir = mkdtempSync(join(tmpdir(), "seed-"));
  const from = join(dir, "from");
  const to = join(dir, "to");
  mkdirSync(join(from, "lib/chrony"), { recursive: true, mode: 0o750 });
  chownSync(join(from, "lib/chrony"), 100, 101);
  writeFileSync(join(from, "lib/chrony/drift"), "module default\n", { mode: 0o640 });
  writeFileSync(join(from, "kept"), "module version\n");
  symlinkSync("../run", join(from, "run"));
  mkdirSync(to);
  writeFileSync(join(to, "kept"), "written by a service\n");

  expect(seedTree(from, to)).toBe(4); // lib, lib/chrony, drift, the link
  expect(readFileSync(join(to, "kept"), "utf8")).toBe("written by a service\n");
  expect(readFileSync(join(to, "lib/chrony/drift"), "utf8")).toBe("module default\n");
  const st = lstatSync(join(to, "lib/chrony"));
  expect([st.mode & 0o7777, st.uid, st.gid]).toEqual([0o750, 100, 101]);
  expect(lstatSync(join(to, "lib/chrony/drift")).mode & 0o7777).toBe(0o640);
  expect(readlinkSync(join(to, "run"))).toBe("../run");
  // A second pass over a seeded tree copies nothing and changes nothing.
  writeFileSync(join(to, "lib/chrony/drift"), "service state\n");
  expect(seedTree(from, to)).toBe(0);
  expect(readFileSync(join(to, "lib/chrony/drift"), "utf8")).toBe("service state\n");
  rmSync(dir, { recursive: true, force: true });
});
