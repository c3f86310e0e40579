import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createExec } from "@powernode/exec";
import {
  buildRpiImage,
  planRpiBootFiles,
  RPI_BOOT_OFFSET,
  RPI_DTBS,
  RPI4_FIRMWARE,
  type RpiImageInput,
  rpiConfigTxt,
} from "./rpi-image.ts";

const dir = mkdtempSync(join(tmpdir(), "rpi-test-"));
function fixture(name: string, size: number, fill: number): string {
  const p = join(dir, name);
  writeFileSync(p, Buffer.alloc(size, fill));
  return p;
}
const kernel = fixture("kernel", 3 * 1024 * 1024, 7);
const initrd = fixture("initrd", 2 * 1024 * 1024, 9);
const dtbs = { [RPI_DTBS.rpi4]: fixture("dtb4", 50_000, 4), [RPI_DTBS.rpi5]: fixture("dtb5", 60_000, 5) };
const firmware = { "start4.elf": fixture("start4", 200_000, 1), "fixup4.dat": fixture("fixup4", 5_000, 2) };
const cmdline = "console=ttyS0,115200 panic=-1 powernode.claim_url=https://hub:8443";
const input = (out: string): RpiImageInput => ({
  platform: "rpi4",
  kernel,
  initrd,
  cmdline,
  dtbs,
  firmware,
  out: join(dir, out),
  extraFiles: { "identity.cfg": "SERVER=https://hub:8443\n" },
});
const exec = createExec({ defaultTimeoutMs: 120_000 });
const env = { MTOOLS_SKIP_CHECK: "1" };
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/** config.txt's settings outside conditional sections other than [all], plus each [section]'s. */
function parseConfig(text: string): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>([["all", new Map()]]);
  let section = "all";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const m = line.match(/^\[(.+)\]$/);
    if (m?.[1]) {
      section = m[1];
      if (!out.has(section)) out.set(section, new Map());
      continue;
    }
    // `initramfs <file> <address|followed_kernel>` is the one setting without "=".
    const [key, value] = line.startsWith("initramfs ") ? ["initramfs", line.slice(10)] : line.split("=", 2);
    out.get(section)?.set(key ?? "", value ?? "");
  }
  return out;
}

describe("planRpiBootFiles", () => {
  test("a DTB or a blob missing, a multi-line cmdline, a clashing extra file: errors naming them", () => {
    expect(() => planRpiBootFiles({ ...input("x"), dtbs: { [RPI_DTBS.rpi4]: kernel } })).toThrow(
      RPI_DTBS.rpi5,
    );
    expect(() => planRpiBootFiles({ ...input("x"), firmware: {} })).toThrow("start4.elf");
    expect(() => planRpiBootFiles({ ...input("x"), cmdline: "a\nb" })).toThrow("one line");
    expect(() => planRpiBootFiles({ ...input("x"), extraFiles: { "config.txt": "" } })).toThrow("config.txt");
  });
});

describe("buildRpiImage", () => {
  test("MBR with one bootable FAT32 partition at 1 MiB; the firmware layout; config.txt's rules; reproducible", async () => {
    const a = await buildRpiImage(input("a.img"));
    const b = await buildRpiImage(input("b.img"));
    expect(b.sha256).toBe(a.sha256);
    const bytes = readFileSync(join(dir, "a.img"));
    expect(sha(bytes)).toBe(a.sha256);
    expect(bytes.length).toBe(a.sizeBytes);

    // MBR: signature, one partition entry (bootable, 0x0c FAT32 LBA, 2048.. the end), the rest empty.
    expect(bytes.readUInt16LE(510)).toBe(0xaa55);
    const e = 446;
    expect(bytes[e]).toBe(0x80);
    expect(bytes[e + 4]).toBe(0x0c);
    expect(bytes.readUInt32LE(e + 8)).toBe(RPI_BOOT_OFFSET / 512);
    expect(bytes.readUInt32LE(e + 12)).toBe((a.sizeBytes - RPI_BOOT_OFFSET) / 512);
    expect(bytes.subarray(e + 16, 510).every((x) => x === 0)).toBe(true);
    expect(bytes.readUInt32LE(440)).not.toBe(0); // a disk id (derived from the inputs)

    // FAT32 boot sector at the partition's start.
    const bs = bytes.subarray(RPI_BOOT_OFFSET, RPI_BOOT_OFFSET + 512);
    expect(bs.readUInt16LE(510)).toBe(0xaa55);
    expect(bs.readUInt16LE(11)).toBe(512);
    expect(bs.readUInt16LE(17)).toBe(0); // no fixed root directory: FAT32
    expect(bs.readUInt32LE(28)).toBe(RPI_BOOT_OFFSET / 512); // hidden sectors = the partition's LBA
    expect(bs.readUInt32LE(32)).toBe((a.sizeBytes - RPI_BOOT_OFFSET) / 512);
    expect(bs.toString("latin1", 82, 87)).toBe("FAT32");
    expect(bs.toString("latin1", 71, 82)).toBe("PNBOOT     ");
    expect(bs.readUInt32LE(67)).not.toBe(0x1234abcd); // the volume id comes from the inputs, not --invariant's

    // The files, read back through mtools.
    const img = `${join(dir, "a.img")}@@${RPI_BOOT_OFFSET}`;
    const listing = (await exec.run("mdir", ["-b", "-i", img, "::/"], { env })).stdout;
    const names = listing
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => l.replace(/^::\//, ""))
      .sort();
    const expected = [
      "cmdline.txt",
      "config.txt",
      "identity.cfg",
      "initramfs.img",
      "kernel8.img",
      ...Object.values(RPI_DTBS),
      ...RPI4_FIRMWARE,
    ].sort();
    expect(names).toEqual(expected);
    const read = async (name: string): Promise<Buffer> => {
      const p = join(dir, `out-${name}`);
      await exec.run("mcopy", ["-n", "-i", img, `::/${name}`, p], { env });
      return readFileSync(p);
    };
    const config = (await read("config.txt")).toString("utf8");
    expect(config).toBe(rpiConfigTxt());
    const cmd = (await read("cmdline.txt")).toString("utf8");
    expect(cmd).toBe(`${cmdline}\n`);
    expect(cmd.trimEnd().includes("\n")).toBe(false);
    expect((await read("identity.cfg")).toString("utf8")).toBe("SERVER=https://hub:8443\n");
    for (const [name, src] of [...Object.entries(dtbs), ...Object.entries(firmware)])
      expect(sha(await read(name))).toBe(sha(readFileSync(src)));

    // config.txt: 64-bit; kernel= and initramfs name files on the partition with their bytes; a DTB per board.
    const cfg = parseConfig(config);
    const all = cfg.get("all");
    expect(all?.get("arm_64bit")).toBe("1");
    const kernelName = all?.get("kernel") ?? "";
    expect(names).toContain(kernelName);
    expect(sha(await read(kernelName))).toBe(sha(readFileSync(kernel)));
    const [initrdName, where, ...more] = (all?.get("initramfs") ?? "").split(/\s+/);
    expect(where).toBe("followed_kernel");
    expect(more).toEqual([]);
    expect(names).toContain(initrdName ?? "");
    expect(sha(await read(initrdName ?? ""))).toBe(sha(readFileSync(initrd)));
    expect(cfg.get("pi4")?.get("device_tree")).toBe(RPI_DTBS.rpi4);
    expect(cfg.get("pi5")?.get("device_tree")).toBe(RPI_DTBS.rpi5);

    // Other inputs, another image.
    const c = await buildRpiImage({ ...input("c.img"), cmdline: "console=ttyS0,115200" });
    expect(c.sha256).not.toBe(a.sha256);
    const d = await buildRpiImage({ ...input("d.img"), platform: "rpi5" });
    expect(d.sha256).not.toBe(a.sha256);
  }, 120_000);
});
