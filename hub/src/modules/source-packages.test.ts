import { expect, test } from "bun:test";
import { sourcePackages } from "./source-packages.ts";

test("sourcePackages: the builder's name=version list; nothing for a dir or tar source", () => {
  expect(
    sourcePackages({
      type: "debian",
      packages: "libc6=2.36-9+deb12u10 libssl3=3.0.15-1~deb12u1",
      omitted: "x",
    }),
  ).toEqual([
    { name: "libc6", version: "2.36-9+deb12u10" },
    { name: "libssl3", version: "3.0.15-1~deb12u1" },
  ]);
  expect(sourcePackages({ type: "dir", path: "/x" })).toEqual([]);
  expect(sourcePackages({ type: "debian", packages: "" })).toEqual([]);
});
