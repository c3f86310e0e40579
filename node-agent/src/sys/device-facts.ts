/**
 * What a node with no identity reports in claim mode: its MACs, SMBIOS UUID and serial (or the SoC
 * serial on a Pi), the device-tree or DMI model, a platform hint, CPU count and memory. Parsers are
 * pure; {@link readDeviceFacts} reads them under a root (`/` on a node, a temp dir in tests).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

export interface DeviceFactsInput {
  /** Lower-case, the first (alphabetical, `eth0` first) interface first; no loopback or all-zero. */
  macs: string[];
  dmiUuid: string;
  serial: string;
  arch: "amd64" | "arm64";
  platformHint: string;
  model: string;
  cpus: number;
  memoryMib: number;
}

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Placeholders firmware writes when it has no real value. */
const PLACEHOLDER_RE =
  /^(|0+|none|default string|to be filled by o\.e\.m\.|not specified|system serial number)$/i;

/** `MemTotal:  2030000 kB` -> MiB (floor); 0 when absent. */
export function parseMeminfoMib(text: string): number {
  const m = /^MemTotal:\s+(\d+)\s*kB/m.exec(text);
  return m?.[1] ? Math.floor(Number(m[1]) / 1024) : 0;
}

/** CPUs (the `processor` lines) and the SoC serial (Pi's `Serial` line, leading zeros kept). */
export function parseCpuinfo(text: string): { cpus: number; serial: string } {
  const cpus = (text.match(/^processor\s*:/gm) ?? []).length;
  const serial = /^Serial\s*:\s*([0-9a-fA-F]+)\s*$/m.exec(text)?.[1] ?? "";
  return { cpus, serial: PLACEHOLDER_RE.test(serial) ? "" : serial.toLowerCase() };
}

/** A hint of the platform from the device-tree model or the DMI product name. */
export function platformHintOf(model: string, arch: "amd64" | "arm64"): string {
  const m = /Raspberry Pi (\d+)/i.exec(model);
  if (m?.[1]) return `rpi${m[1]}`;
  const cm = /Raspberry Pi Compute Module (\d+)/i.exec(model);
  if (cm?.[1]) return `rpi-cm${cm[1]}`;
  if (/QEMU|Standard PC/i.test(model)) return "qemu";
  return arch === "arm64" ? "arm64" : "x86";
}

const readTrim = (path: string): string => {
  try {
    // Device-tree strings end with NUL.
    return readFileSync(path, "utf8").replaceAll("\u0000", "").trim();
  } catch {
    return "";
  }
};

/** MACs of the non-loopback interfaces under `<sys>/class/net`, `eth0` first, then by name. */
export function readMacs(sysRoot: string): string[] {
  const dir = join(sysRoot, "class/net");
  if (!existsSync(dir)) return [];
  const names = readdirSync(dir)
    .filter((n) => n !== "lo")
    .sort((a, b) => (a === "eth0" ? -1 : b === "eth0" ? 1 : a.localeCompare(b)));
  const out: string[] = [];
  for (const n of names) {
    const mac = readTrim(join(dir, n, "address")).toLowerCase();
    if (MAC_RE.test(mac) && mac !== "00:00:00:00:00:00" && !out.includes(mac)) out.push(mac);
  }
  return out.slice(0, 16);
}

/** Reads every fact under `root` (its `sys` and `proc`). */
export function readDeviceFacts(root: string, arch: "amd64" | "arm64"): DeviceFactsInput {
  const sys = join(root, "sys");
  const proc = join(root, "proc");
  const dmi = (f: string) => {
    const v = readTrim(join(sys, "class/dmi/id", f));
    return PLACEHOLDER_RE.test(v) ? "" : v;
  };
  const uuid = dmi("product_uuid").toLowerCase();
  const cpu = parseCpuinfo(readTrim(join(proc, "cpuinfo")));
  const model = (readTrim(join(proc, "device-tree/model")) || dmi("product_name")).slice(0, 128);
  const dmiSerial = dmi("product_serial");
  return {
    macs: readMacs(sys),
    // The nil and all-ones UUIDs are what boards without one report.
    dmiUuid: UUID_RE.test(uuid) && !/^[0-]+$|^[f-]+$/.test(uuid) ? uuid : "",
    serial: (/^[A-Za-z0-9._:-]{1,64}$/.test(dmiSerial) ? dmiSerial : "") || cpu.serial,
    arch,
    platformHint: platformHintOf(model, arch),
    model: model.replace(/[^\x20-\x7e]/g, "?"),
    cpus: Math.max(1, cpu.cpus),
    memoryMib: parseMeminfoMib(readTrim(join(proc, "meminfo"))),
  };
}
