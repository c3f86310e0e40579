import { describe, expect, test } from "bun:test";
import { foreignInstalls, hostRelease, parseSimulation } from "./apt.mjs";

// Lines as `apt-get -s install` prints them on a bookworm host with trixie and backports configured.
const SIMULATION = `NOTE: This is only a simulation!
Inst libc6 [2.36-9+deb12u14] (2.41-12+deb13u5 Debian:13.8/stable [amd64]) [libc-bin:amd64 ]
Inst base-files [12.4+deb12u11] (13.8+deb13u8 Debian:13.8/stable [amd64])
Inst postgresql-15 (15.15-0+deb12u1 Debian:12.15/oldstable, Debian-Security:12/oldstable-security [amd64])
Inst linux-image-6.12.57+deb12-cloud-amd64 (6.12.57-1~bpo12+1 Debian Backports:bookworm-backports [amd64])
Inst tzdata [2025b-0+deb12u1] (2025b-0+deb12u2 Debian:12.15/oldstable-updates [all])
Conf libc6 (2.41-12+deb13u5 Debian:13.8/stable [amd64])
`;

const BOOKWORM = hostRelease(
  'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n',
);

describe("the apt guard", () => {
  test("reads the host release from os-release", () => {
    expect(BOOKWORM).toEqual({
      codename: "bookworm",
      versionId: "12",
      pretty: "Debian GNU/Linux 12 (bookworm)",
    });
  });

  test("parses Inst lines: package, old and new version, release labels", () => {
    const e = parseSimulation(SIMULATION);
    expect(e.map((x) => x.pkg)).toEqual([
      "libc6",
      "base-files",
      "postgresql-15",
      "linux-image-6.12.57+deb12-cloud-amd64",
      "tzdata",
    ]);
    expect(e[0]).toEqual({
      pkg: "libc6",
      from: "2.36-9+deb12u14",
      to: "2.41-12+deb13u5",
      labels: ["Debian:13.8/stable"],
    });
    expect(e[2]?.from).toBeUndefined();
    expect(e[2]?.labels).toEqual(["Debian:12.15/oldstable", "Debian-Security:12/oldstable-security"]);
  });

  test("only packages from another release are foreign (bookworm, -updates, -security, -backports pass)", () => {
    const foreign = foreignInstalls(parseSimulation(SIMULATION), BOOKWORM).map((e) => e.pkg);
    expect(foreign).toEqual(["libc6", "base-files"]);
  });
});
