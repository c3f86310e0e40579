import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createExec } from "@powernode/exec";
import { buildEfiImage, ESP_OFFSET } from "./efi-image.ts";

const dir = mkdtempSync(join(tmpdir(), "efi-test-"));
const kernel = join(dir, "kernel");
const initrd = join(dir, "initrd");
writeFileSync(kernel, Buffer.alloc(3 * 1024 * 1024, 7));
writeFileSync(initrd, Buffer.alloc(2 * 1024 * 1024, 9));
const exec = createExec({ defaultTimeoutMs: 120_000 });
const input = (out: string) => ({
  kernel,
  initrd,
  cmdline: "console=ttyS0 powernode.claim_url=https://hub:8443",
  out: join(dir, out),
  extraFiles: { "identity.cfg": "SERVER=https://hub:8443\n" },
});

describe("buildEfiImage", () => {
  test("GPT with one ESP at 1 MiB; the UKI holds kernel, initrd and cmdline; reproducible", async () => {
    const a = await buildEfiImage(input("a.img"));
    const b = await buildEfiImage(input("b.img"));
    expect(b.sha256).toBe(a.sha256);
    const table = JSON.parse((await exec.run("sfdisk", ["--json", join(dir, "a.img")])).stdout) as {
      partitiontable: { label: string; partitions: Array<{ start: number; type: string; name: string }> };
    };
    expect(table.partitiontable.label).toBe("gpt");
    expect(table.partitiontable.partitions.map((p) => [p.start, p.type, p.name])).toEqual([
      [ESP_OFFSET / 512, "C12A7328-F81F-11D2-BA4B-00A0C93EC93B", "POWERNODE-EFI"],
    ]);
    // The FAT32 volume id comes from the inputs (not mkfs.fat --invariant's 1234ABCD).
    expect(readFileSync(join(dir, "a.img")).readUInt32LE(ESP_OFFSET + 67)).not.toBe(0x1234abcd);
    const img = `${join(dir, "a.img")}@@${ESP_OFFSET}`;
    const env = { MTOOLS_SKIP_CHECK: "1" };
    const listing = (await exec.run("mdir", ["-b", "-/", "-i", img, "::/"], { env })).stdout;
    expect(listing).toContain("::/EFI/BOOT/BOOTX64.EFI");
    expect(listing).toContain("::/identity.cfg");
    const uki = join(dir, "uki.efi");
    await exec.run("mcopy", ["-i", img, "::/EFI/BOOT/BOOTX64.EFI", uki], { env });
    const sections = (await exec.run("objdump", ["-h", uki])).stdout;
    for (const s of [".osrel", ".cmdline", ".linux", ".initrd"]) expect(sections).toContain(s);
    const cmd = join(dir, "cmdline.bin");
    await exec.run("objcopy", ["-O", "binary", "--only-section=.cmdline", uki, cmd]);
    expect((await Bun.file(cmd).text()).replace(/\0+$/, "")).toBe(input("x").cmdline);
    // Another cmdline, another image.
    const c = await buildEfiImage({ ...input("c.img"), cmdline: "console=ttyS0" });
    expect(c.sha256).not.toBe(a.sha256);
  }, 120_000);
});
