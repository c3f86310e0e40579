import { describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "../../../scripts/lib/exec.ts";
import type { MountSpec } from "../sys/mount.ts";
import { bootPartitionSource } from "./boot-partition.ts";
import { discoverIdentity } from "./discover.ts";
import { parseIdentityFile } from "./identity-file.ts";

const PEM = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ\nAbCd==\n-----END CERTIFICATE-----";
const UUID = "7d9e6c1a-3b1f-4a59-9f10-2a2f0f0b5c11";

describe("identity.cfg", () => {
  test("key=value lines, comments, quotes, CRLF; ca_pem as base64 or as a PEM block over lines", () => {
    const text = [
      "\uFEFF# written by pnctl image build",
      `instance_uuid=${UUID}`,
      'bootstrap_token="pnb_abc"',
      "PLATFORM_URL = https://hub.example:8443",
      `ca_pem=${PEM.split("\n")[0]}`,
      ...PEM.split("\n").slice(1),
      "",
      "ip=dhcp",
    ].join("\r\n");
    expect(parseIdentityFile(text)).toEqual({
      instance_uuid: UUID,
      bootstrap_token: "pnb_abc",
      platform_url: "https://hub.example:8443",
      ca_pem: `${PEM}\n`,
      ip: "dhcp",
    });
    const b64 = Buffer.from(PEM).toString("base64");
    expect(parseIdentityFile(`ca_pem=${b64}\n`).ca_pem).toBe(b64);
  });

  test("an unknown key or a line without = is an error naming the line", () => {
    expect(() => parseIdentityFile(`instance_uuid=${UUID}\ninstance-uuid=x\n`)).toThrow(
      'identity.cfg line 2: unknown key "instance-uuid" (known: instance_uuid, bootstrap_token, platform_url, ca_pem, ip)',
    );
    expect(() => parseIdentityFile("# ok\njust words\n")).toThrow("identity.cfg line 2: expected key=value");
  });
});

describe("the boot partition source", () => {
  test("finds the FAT partition, mounts it read-only at /boot for root only, reads identity.cfg", async () => {
    const root = mkdtempSync(join(tmpdir(), "pn-bootpart-"));
    try {
      // sysfs: a disk (no `partition` file) and its first partition; /dev: the partition is a real FAT image.
      for (const n of ["vda", "vda1"]) mkdirSync(join(root, "sys/class/block", n), { recursive: true });
      writeFileSync(join(root, "sys/class/block/vda1/partition"), "1\n");
      mkdirSync(join(root, "dev"));
      writeFileSync(join(root, "dev/vda"), Buffer.alloc(4096));
      const fat = join(root, "dev/vda1");
      await run("mkfs.fat", ["-C", "-F", "32", fat, "34000"]);
      const mounts: MountSpec[] = [];
      const cfg = `instance_uuid=${UUID}\nbootstrap_token=pnb_x\nplatform_url=https://h:8443\nca_pem=${Buffer.from(PEM).toString("base64")}\n`;
      const mounter = {
        // The "mount": the file a real vfat mount would show.
        mount: (spec: MountSpec, target: string) => {
          mounts.push(spec);
          writeFileSync(join(target, "identity.cfg"), cfg);
        },
      };
      const r = discoverIdentity([bootPartitionSource(root, mounter)]);
      expect(r.ok).toBe(true);
      if (r.ok)
        expect([r.value.instanceUuid, r.value.platformUrl, r.source]).toEqual([
          UUID,
          "https://h:8443",
          "identity.cfg on the boot partition",
        ]);
      expect(mounts).toEqual([
        { source: "/dev/vda1", target: "/boot", fstype: "vfat", flags: 1 | 2 | 4 | 8, data: "umask=077" },
      ]);

      // No FAT partition: the source has nothing (not an error), so claim mode can follow.
      writeFileSync(fat, Buffer.alloc(512));
      const none = discoverIdentity([bootPartitionSource(root, mounter)]);
      expect(none.ok).toBe(false);
      if (!none.ok)
        expect(none.error.problems[0]).toContain("identity.cfg on the boot partition (no instance_uuid)");
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
