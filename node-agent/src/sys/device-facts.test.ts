import { describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parseCpuinfo, parseMeminfoMib, platformHintOf, readDeviceFacts } from "./device-facts.ts";

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), "facts-"));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

describe("device facts", () => {
  test("meminfo and cpuinfo parsers", () => {
    expect(parseMeminfoMib("MemTotal:        3884360 kB\nMemFree: 1 kB\n")).toBe(3793);
    expect(parseMeminfoMib("nothing")).toBe(0);
    const pi =
      "processor\t: 0\nprocessor\t: 1\nprocessor\t: 2\nprocessor\t: 3\nSerial\t\t: 10000000ABCDEF01\n";
    expect(parseCpuinfo(pi)).toEqual({ cpus: 4, serial: "10000000abcdef01" });
    expect(parseCpuinfo("processor : 0\nSerial : 0000000000000000\n")).toEqual({ cpus: 1, serial: "" });
  });

  test("platform hints", () => {
    expect(platformHintOf("Raspberry Pi 4 Model B Rev 1.4", "arm64")).toBe("rpi4");
    expect(platformHintOf("Raspberry Pi 5 Model B Rev 1.0", "arm64")).toBe("rpi5");
    expect(platformHintOf("Raspberry Pi Compute Module 4 Rev 1.0", "arm64")).toBe("rpi-cm4");
    expect(platformHintOf("Standard PC (Q35 + ICH9, 2009)", "amd64")).toBe("qemu");
    expect(platformHintOf("PowerEdge R650", "amd64")).toBe("x86");
    expect(platformHintOf("", "arm64")).toBe("arm64");
  });

  test("a Raspberry Pi: device-tree model, SoC serial, eth0 first, no DMI", () => {
    const root = tree({
      "sys/class/net/lo/address": "00:00:00:00:00:00\n",
      "sys/class/net/wlan0/address": "DC:A6:32:00:00:02\n",
      "sys/class/net/eth0/address": "dc:a6:32:00:00:01\n",
      "proc/device-tree/model": "Raspberry Pi 4 Model B Rev 1.4\u0000",
      "proc/cpuinfo":
        "processor : 0\nprocessor : 1\nprocessor : 2\nprocessor : 3\nSerial : 10000000abcdef01\n",
      "proc/meminfo": "MemTotal: 3884360 kB\n",
    });
    expect(readDeviceFacts(root, "arm64")).toEqual({
      macs: ["dc:a6:32:00:00:01", "dc:a6:32:00:00:02"],
      dmiUuid: "",
      serial: "10000000abcdef01",
      arch: "arm64",
      platformHint: "rpi4",
      model: "Raspberry Pi 4 Model B Rev 1.4",
      cpus: 4,
      memoryMib: 3793,
    });
  });

  test("a PC: DMI UUID and serial, placeholders dropped", () => {
    const root = tree({
      "sys/class/net/enp1s0/address": "52:54:00:12:34:56\n",
      "sys/class/dmi/id/product_uuid": "4C4C4544-0042-3510-8052-B4C04F4E3332\n",
      "sys/class/dmi/id/product_serial": "To Be Filled By O.E.M.\n",
      "sys/class/dmi/id/product_name": "Standard PC (Q35 + ICH9, 2009)\n",
      "proc/cpuinfo": "processor : 0\nprocessor : 1\n",
      "proc/meminfo": "MemTotal: 2030000 kB\n",
    });
    const f = readDeviceFacts(root, "amd64");
    expect(f.dmiUuid).toBe("4c4c4544-0042-3510-8052-b4c04f4e3332");
    expect(f.serial).toBe("");
    expect(f.platformHint).toBe("qemu");
    expect(f.macs).toEqual(["52:54:00:12:34:56"]);
    expect(f.cpus).toBe(2);
  });

  test("the nil SMBIOS UUID counts as none", () => {
    const root = tree({
      "sys/class/net/eth0/address": "52:54:00:12:34:56\n",
      "sys/class/dmi/id/product_uuid": "00000000-0000-0000-0000-000000000000\n",
    });
    expect(readDeviceFacts(root, "amd64").dmiUuid).toBe("");
  });
});
