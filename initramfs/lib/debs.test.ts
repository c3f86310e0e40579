import { describe, expect, test } from "bun:test";
import { bookwormVersionOf, debFileName, parseMadison, pickBookworm } from "./debs.ts";

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
