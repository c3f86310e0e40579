import { describe, expect, test } from "bun:test";
import { assertKernelAvailable, bookwormVersionOf, debFileName, parseMadison, pickBookworm } from "./debs.ts";
import type { Exec } from "./exec.ts";

const MADISON = `     libc6 | 2.41-12+deb13u5 | http://mirror.invalid/debian trixie/main amd64 Packages
     libc6 | 2.36-9+deb12u14 | http://mirror.invalid/debian bookworm/main amd64 Packages
     libc6 | 2.36-9+deb12u7 | http://mirror.invalid/debian-security bookworm-security/main amd64 Packages
busybox-static:arm64 | 1:1.37.0-6+b9 | http://mirror.invalid/debian trixie/main arm64 Packages
busybox-static:arm64 | 1:1.35.0-4+deb12u1+b1 | http://mirror.invalid/debian bookworm/main arm64 Packages
linux-image-cloud-amd64 | 6.12.95-1~bpo12+1 | http://mirror.invalid/debian bookworm-backports/main amd64 Packages
`;

describe("apt helpers", () => {
  test("parseMadison keeps package, version and suite", () => {
    expect(parseMadison(MADISON)[3]).toEqual({
      pkg: "busybox-static",
      version: "1:1.37.0-6+b9",
      suite: "trixie",
    });
  });

  test("the newest bookworm version wins; trixie and backports never do", () => {
    const lines = parseMadison(MADISON);
    expect(bookwormVersionOf(lines, "libc6", "amd64")).toBe("2.36-9+deb12u14");
    expect(bookwormVersionOf(lines, "busybox-static", "arm64")).toBe("1:1.35.0-4+deb12u1+b1");
    expect(pickBookworm(lines.filter((l) => l.pkg === "linux-image-cloud-amd64"))).toBeUndefined();
    expect(() => bookwormVersionOf(lines, "nosuch", "amd64")).toThrow(/nosuch:amd64: no bookworm version/);
  });

  test("debFileName escapes the epoch like apt-get download", () => {
    expect(debFileName("busybox-static", "1:1.35.0-4+deb12u1+b1", "arm64")).toBe(
      "busybox-static_1%3a1.35.0-4+deb12u1+b1_arm64.deb",
    );
  });
});

/** Answers `apt-cache search` from a fixed list and records the calls. */
function createRecordingExecFake(searchOut: string): Exec & { calls: string[][] } {
  const calls: string[][] = [];
  return {
    calls,
    async run(cmd, args) {
      calls.push([cmd, ...args]);
      return { stdout: searchOut, stderr: "", exitCode: 0 };
    },
    async runBinary() {
      throw new Error("not used");
    },
  };
}

const PKG = "linux-image-6.12.117+deb12-cloud-amd64-unsigned";

test("the pinned kernel present: no search", async () => {
  const exec = createRecordingExecFake("");
  const lines = parseMadison(
    `${PKG} | 6.12.117-1~deb12u1 | http://m.invalid/debian-security bookworm-security/main amd64 Packages\n`,
  );
  await assertKernelAvailable(exec, lines, PKG, "6.12.117-1~deb12u1", "amd64");
  expect(exec.calls).toEqual([]);
});

test("the pinned kernel gone: the error names the newest of the same flavour", async () => {
  const exec = createRecordingExecFake(
    [
      "linux-image-6.12.9+deb12-cloud-amd64-unsigned - Linux 6.12 for x86-64 cloud",
      "linux-image-6.12.121+deb12-cloud-amd64-unsigned - Linux 6.12 for x86-64 cloud",
      "linux-image-6.12.119+deb12-cloud-amd64-unsigned - Linux 6.12 for x86-64 cloud",
    ].join("\n"),
  );
  await expect(assertKernelAvailable(exec, [], PKG, "6.12.117-1~deb12u1", "amd64")).rejects.toThrow(
    /no longer in the apt sources; newest available: linux-image-6\.12\.121\+deb12-cloud-amd64-unsigned; update KERNEL in initramfs\/versions\.ts/,
  );
  expect(exec.calls[0]?.slice(0, 3)).toEqual(["apt-cache", "search", "--names-only"]);
  expect(exec.calls[0]?.[3]).toBe("^linux-image-6\\.12\\.[0-9]+\\+deb12-cloud-amd64-unsigned$");
});
