import { describe, expect, test } from "bun:test";
import {
  aliasMatches,
  type KmodIndex,
  kmodNameOf,
  parseBuiltinAliases,
  parseModulesAlias,
  parseModulesBuiltin,
  parseModulesDep,
  parseModulesSoftdep,
  resolveLoadOrder,
} from "./kmod-index.ts";

// Shaped like depmod's output for the Debian 6.12 cloud kernel (trimmed).
const DEP = `kernel/fs/overlayfs/overlay.ko.xz:
kernel/fs/erofs/erofs.ko.xz: kernel/lib/libcrc32c.ko.xz
kernel/lib/libcrc32c.ko.xz:
kernel/arch/x86/crypto/crc32c-intel.ko.xz:
kernel/drivers/md/dm-verity.ko.xz: kernel/drivers/md/dm-bufio.ko.xz kernel/drivers/md/dm-mod.ko.xz kernel/lib/reed_solomon/reed_solomon.ko.xz
kernel/drivers/md/dm-bufio.ko.xz:
kernel/drivers/md/dm-mod.ko.xz:
kernel/lib/reed_solomon/reed_solomon.ko.xz:
kernel/drivers/net/virtio_net.ko.xz: kernel/drivers/net/net_failover.ko.xz kernel/net/core/failover.ko.xz
kernel/drivers/net/net_failover.ko.xz: kernel/net/core/failover.ko.xz
kernel/net/core/failover.ko.xz:
kernel/drivers/char/hw_random/virtio-rng.ko.xz:
`;
const SOFTDEP =
  "# Soft dependencies\nsoftdep libcrc32c pre: crc32c\nsoftdep cifs gcm\nsoftdep erofs post: nosuch\n";
const ALIAS =
  "alias crc32c crc32c_intel\nalias crypto-crc32c crc32c_intel\nalias virtio:d00000004v* virtio_rng\n";
const BUILTIN = "kernel/fs/ext4/ext4.ko\nkernel/crypto/crc32c_generic.ko\n";
const BUILTIN_MODINFO = "ext4.alias=fs-ext4\0ext4.alias=ext3\0crc32c_generic.alias=crc32c\0";

function index(): KmodIndex {
  return {
    deps: parseModulesDep(DEP),
    softdeps: parseModulesSoftdep(SOFTDEP),
    aliases: parseModulesAlias(ALIAS),
    builtin: parseModulesBuiltin(BUILTIN),
    builtinAliases: parseBuiltinAliases(BUILTIN_MODINFO),
  };
}

describe("module indexes", () => {
  test("kmodNameOf folds dashes and strips compression suffixes", () => {
    expect(kmodNameOf("kernel/drivers/md/dm-verity.ko.xz")).toBe("dm_verity");
    expect(kmodNameOf("virtio-rng")).toBe("virtio_rng");
    expect(kmodNameOf("a/b.ko")).toBe("b");
  });

  test("parses softdep pre/post and unmarked names as pre", () => {
    expect(parseModulesSoftdep(SOFTDEP)).toEqual(
      new Map([
        ["libcrc32c", { pre: ["crc32c"], post: [] }],
        ["cifs", { pre: ["gcm"], post: [] }],
        ["erofs", { pre: [], post: ["nosuch"] }],
      ]),
    );
  });

  test("alias globbing follows fnmatch", () => {
    expect(aliasMatches("virtio:d00000004v*", "virtio:d00000004v00001AF4")).toBe(true);
    expect(aliasMatches("pci:v[0-9]d?", "pci:v3dX")).toBe(true);
    expect(aliasMatches("crc32c", "crc32c-intel")).toBe(false);
  });
});

describe("resolveLoadOrder", () => {
  test("dependencies first, softdeps through aliases, builtins skipped, each module once", () => {
    const plan = resolveLoadOrder(index(), [
      "virtio_net",
      "erofs",
      "dm-verity",
      "ext4",
      "overlay",
      "virtio_rng",
    ]);
    expect(plan).toEqual({
      order: [
        "kernel/net/core/failover.ko.xz",
        "kernel/drivers/net/net_failover.ko.xz",
        "kernel/drivers/net/virtio_net.ko.xz",
        "kernel/arch/x86/crypto/crc32c-intel.ko.xz",
        "kernel/lib/libcrc32c.ko.xz",
        "kernel/fs/erofs/erofs.ko.xz",
        "kernel/drivers/md/dm-bufio.ko.xz",
        "kernel/drivers/md/dm-mod.ko.xz",
        "kernel/lib/reed_solomon/reed_solomon.ko.xz",
        "kernel/drivers/md/dm-verity.ko.xz",
        "kernel/fs/overlayfs/overlay.ko.xz",
        "kernel/drivers/char/hw_random/virtio-rng.ko.xz",
      ],
      builtin: ["ext4"],
      warnings: ["softdep nosuch of erofs: no such module, alias or builtin"],
    });
  });

  test("a root alias resolves to its module", () => {
    expect(resolveLoadOrder(index(), ["virtio:d00000004v00001AF4"]).order).toEqual([
      "kernel/drivers/char/hw_random/virtio-rng.ko.xz",
    ]);
  });

  test("an unknown root is an error naming it", () => {
    expect(() => resolveLoadOrder(index(), ["nosuchmod"])).toThrow(/kernel module nosuchmod/);
  });

  test("a dependency cycle is reported", () => {
    const idx = index();
    idx.deps = parseModulesDep("a.ko: b.ko\nb.ko: a.ko\n");
    expect(() => resolveLoadOrder(idx, ["a"])).toThrow(/cycle: a -> b -> a/);
  });
});
