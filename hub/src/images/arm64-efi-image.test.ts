import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createExec } from "@powernode/exec";
import { ARM64_ESP, buildArm64EfiImage, loaderConf } from "./arm64-efi-image.ts";
import { ESP_OFFSET } from "./efi-image.ts";

const dir = mkdtempSync(join(tmpdir(), "arm64-efi-test-"));
const fixture = (name: string, size: number, fill: number): string => {
  const p = join(dir, name);
  writeFileSync(p, Buffer.alloc(size, fill));
  return p;
};
const kernel = fixture("kernel", 3 * 1024 * 1024, 7);
const initrd = fixture("initrd", 2 * 1024 * 1024, 9);
const bootloader = fixture("systemd-bootaa64.efi", 120_000, 3);
const cmdline = "console=ttyAMA0,115200 panic=-1 powernode.claim_url=https://hub:8443";
const input = (out: string) => ({
  kernel,
  initrd,
  bootloader,
  cmdline,
  out: join(dir, out),
  extraFiles: { "identity.cfg": "SERVER=https://hub:8443\n" },
});
const exec = createExec({ defaultTimeoutMs: 120_000 });
const env = { MTOOLS_SKIP_CHECK: "1" };
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

describe("buildArm64EfiImage", () => {
  test("GPT with one ESP; BOOTAA64.EFI is systemd-boot with one entry naming files on the ESP; reproducible", async () => {
    const a = await buildArm64EfiImage(input("a.img"));
    const b = await buildArm64EfiImage(input("b.img"));
    expect(b.sha256).toBe(a.sha256);
    const bytes = readFileSync(join(dir, "a.img"));
    expect(sha(bytes)).toBe(a.sha256);
    // Protective MBR, then the GPT header at LBA 1 and the ESP's entry (type GUID, start LBA).
    expect(bytes.readUInt16LE(510)).toBe(0xaa55);
    expect(bytes[446 + 4]).toBe(0xee);
    expect(bytes.toString("latin1", 512, 520)).toBe("EFI PART");
    const entries = Number(bytes.readBigUInt64LE(512 + 72)) * 512;
    // C12A7328-F81F-11D2-BA4B-00A0C93EC93B in GPT's mixed-endian form.
    expect(bytes.subarray(entries, entries + 16).toString("hex")).toBe("28732ac11ff8d211ba4b00a0c93ec93b");
    expect(Number(bytes.readBigUInt64LE(entries + 32))).toBe(ESP_OFFSET / 512);

    const img = `${join(dir, "a.img")}@@${ESP_OFFSET}`;
    const listing = (await exec.run("mdir", ["-b", "-/", "-i", img, "::/"], { env })).stdout;
    for (const p of [...Object.values(ARM64_ESP), "identity.cfg"]) expect(listing).toContain(`::/${p}`);
    const read = async (name: string): Promise<Buffer> => {
      const p = join(dir, `out-${name.replaceAll("/", "_")}`);
      await exec.run("mcopy", ["-n", "-i", img, `::/${name}`, p], { env });
      return readFileSync(p);
    };
    expect(sha(await read(ARM64_ESP.loader))).toBe(sha(readFileSync(bootloader)));
    expect((await read(ARM64_ESP.loaderConf)).toString()).toBe(loaderConf());
    expect((await read("identity.cfg")).toString()).toBe("SERVER=https://hub:8443\n");
    // The entry: linux and initrd name files on the ESP with the inputs' bytes; options is the cmdline.
    const entry = new Map(
      (await read(ARM64_ESP.entry))
        .toString()
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => [l.slice(0, l.indexOf(" ")), l.slice(l.indexOf(" ") + 1)] as const),
    );
    expect(entry.get("options")).toBe(cmdline);
    const linux = (entry.get("linux") ?? "").replace(/^\//, "");
    const initramfs = (entry.get("initrd") ?? "").replace(/^\//, "");
    expect(sha(await read(linux))).toBe(sha(readFileSync(kernel)));
    expect(sha(await read(initramfs))).toBe(sha(readFileSync(initrd)));

    const c = await buildArm64EfiImage({ ...input("c.img"), cmdline: "console=ttyAMA0" });
    expect(c.sha256).not.toBe(a.sha256);
  }, 120_000);
});
