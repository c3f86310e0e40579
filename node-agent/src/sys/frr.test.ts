import { expect, test } from "bun:test";
import { frrDaemonArgv, vtyshShowArgv, withFrrGroups } from "./frr.ts";

test("the daemons run as root in the foreground, no TCP vty, no config of their own", () => {
  expect(frrDaemonArgv("bgpd")).toEqual([
    "/usr/lib/frr/bgpd",
    "-u",
    "root",
    "-g",
    "root",
    "-P",
    "0",
    "--log",
    "stdout",
    "-f",
    "/dev/null",
  ]);
  expect(vtyshShowArgv("show version")).toEqual(["/usr/bin/vtysh", "-c", "show version"]);
});

test("/etc/group gets frr and frrvty (with root) once, free gids, other lines kept", () => {
  const base = "root:x:0:\nsystemd-journal:x:999:\n";
  const once = withFrrGroups(base);
  expect(once).toBe("root:x:0:\nsystemd-journal:x:999:\nfrr:x:998:\nfrrvty:x:997:root\n");
  expect(withFrrGroups(once)).toBe(once);
  expect(withFrrGroups("frrvty:x:900:frr\n")).toBe("frrvty:x:900:frr,root\nfrr:x:999:\n");
  expect(withFrrGroups("")).toBe("frr:x:999:\nfrrvty:x:998:root\n");
});
