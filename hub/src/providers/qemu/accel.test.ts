import { describe, expect, test } from "bun:test";
import { detectAccel, hostVmArch } from "./accel.ts";
import { createQemuExec, type QemuExec } from "./exec.ts";

/** Fails the test if the KVM probe runs when it must not. */
const noProbeFake: QemuExec = {
  run: () => Promise.reject(new Error("probe must not run")),
  spawnDetached: () => {
    throw new Error("spawn must not run");
  },
};

describe("detectAccel", () => {
  test("POWERNODE_FORCE_TCG=1 forces TCG without probing", async () => {
    expect(await detectAccel(noProbeFake, "amd64", { POWERNODE_FORCE_TCG: "1" })).toEqual({
      accel: "tcg",
      reason: "POWERNODE_FORCE_TCG=1",
    });
  });

  test("a guest of another arch is always TCG", async () => {
    const other = hostVmArch() === "arm64" ? "amd64" : "arm64";
    const r = await detectAccel(noProbeFake, other, {});
    expect(r.accel).toBe("tcg");
    expect(r.reason).toMatch(/^guest (amd64|arm64) on a/);
  });

  test("the host arch gets KVM only if the real probe passes, and says why not", async () => {
    const host = hostVmArch();
    if (!host) throw new Error("host arch is neither x64 nor arm64: cannot check the KVM probe");
    const r = await detectAccel(createQemuExec(), host, {});
    if (r.accel === "kvm") expect(r.reason).toBe("KVM probe ok");
    else expect(r.reason).toMatch(/\/dev\/kvm missing or not writable|KVM probe failed: /);
  });
});
