import { expect, test } from "bun:test";
import { qmpSocketPath } from "./vm.ts";

test("QMP socket sits in the instance dir while the path fits a unix socket", () => {
  expect(qmpSocketPath("/var/lib/powernode/qemu/instances/abc")).toBe(
    "/var/lib/powernode/qemu/instances/abc/qmp.sock",
  );
});

test("a state dir too deep for sun_path gets a short, stable socket path", () => {
  const deep = `/work/${"x".repeat(120)}/instances/1234`;
  const a = qmpSocketPath(deep);
  expect(Buffer.byteLength(a)).toBeLessThanOrEqual(107);
  expect(a).toBe(qmpSocketPath(deep));
  expect(a).not.toBe(qmpSocketPath(`${deep}5`));
});
