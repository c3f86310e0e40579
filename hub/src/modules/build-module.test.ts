import { afterAll, describe, expect, test } from "bun:test";
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createExec } from "@powernode/exec";
import { parseModuleManifest } from "@powernode/oci";
import { type BuiltModule, buildModule, toModuleVersion } from "./build-module.ts";
import { buildRecipe } from "./build-recipe.ts";
import { withComposedRoot } from "./composed-root.ts";
import { loadRecipe, recipePath } from "./recipe.ts";

const exec = createExec();
const work = mkdtempSync(join(tmpdir(), "pn-modules-test-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const built: Record<string, BuiltModule> = {};
const recipe = (name: string) => loadRecipe(recipePath(name));

describe("in-tree recipes, amd64 (real apt-get download, dpkg-deb, mkfs.erofs)", () => {
  test("system-base, chrony and nginx-light build; manifests parse; packages exclude what the base ships", async () => {
    for (const name of ["system-base", "chrony", "nginx-light"]) {
      built[name] = await buildRecipe(recipe(name), "amd64", join(work, name));
    }
    for (const b of Object.values(built)) {
      const parsed = parseModuleManifest(JSON.parse(readFileSync(b.files.config, "utf8")));
      expect(parsed.ok ? parsed.value : parsed.error).toEqual(b.manifest);
      expect(b.manifest.sizes.blob % 4096).toBe(0);
      expect(b.manifest.verityDataBlocks).toBe(b.manifest.sizes.blob / 4096);
      // The recorded root hash checks out against the blob with veritysetup (userspace, no device-mapper).
      const v = await exec.run("veritysetup", [
        "verify",
        b.files.blob,
        b.files.verity,
        b.manifest.verityRootHash,
      ]);
      expect(v.exitCode).toBe(0);
    }
    const pkgs = (n: string) =>
      (built[n]?.manifest.source.packages ?? "").split(" ").map((p) => p.split("=")[0]);
    expect(pkgs("system-base")).toEqual(
      expect.arrayContaining(["libc6", "busybox-static", "ca-certificates"]),
    );
    expect(pkgs("nginx-light")).toEqual(expect.arrayContaining(["nginx", "nginx-common", "nginx-light"]));
    expect(pkgs("nginx-light")).not.toContain("libc6");
    expect(pkgs("nginx-light")).not.toContain("libssl3"); // in the base through ca-certificates -> openssl
    expect(pkgs("chrony")).not.toContain("libc6");
    expect(built["nginx-light"]?.manifest.version).toMatch(/^1\.22\.1-9\+deb12u\d+\+pn1$/);
    expect(built["nginx-light"]?.manifest.services).toEqual([
      {
        name: "nginx",
        exec: ["/usr/sbin/nginx", "-g", "daemon off; master_process off;"],
        restart: "always",
      },
    ]);
  }, 120_000);

  test("reproducible: building nginx-light again gives the same bytes, digest and root hash", async () => {
    const first = built["nginx-light"];
    if (!first) throw new Error("first build missing");
    const again = await buildRecipe(recipe("nginx-light"), "amd64", join(work, "nginx-light-again"));
    expect(again.manifest).toEqual(first.manifest);
    for (const k of ["metadata", "blob", "verity", "config"] as const) {
      expect({ k, same: readFileSync(again.files[k]).equals(readFileSync(first.files[k])) }).toEqual({
        k,
        same: true,
      });
    }
  }, 60_000);

  test("composed root on the host: nginx -t passes, chronyd runs, merged /usr links come from the base", async () => {
    const order = ["nginx-light", "chrony", "system-base"].map((n) => built[n]?.files);
    if (order.some((f) => !f)) throw new Error("builds missing");
    await withComposedRoot(order as BuiltModule["files"][], async (root) => {
      const chroot = (args: string[]) =>
        exec.run("chroot", [root, ...args], { timeoutMs: 30_000, allowFailure: true });
      const nginx = await chroot(["/usr/sbin/nginx", "-t"]);
      expect({ code: nginx.exitCode, err: nginx.stderr }).toMatchObject({ code: 0 });
      expect(nginx.stderr).toContain("test is successful");
      const chrony = await chroot(["/usr/sbin/chronyd", "--version"]);
      expect(chrony.stdout).toContain("chronyd (chrony) version 4.3");
      const conf = await chroot(["/usr/sbin/chronyd", "-p", "-f", "/etc/chrony/chrony.conf"]);
      expect({ code: conf.exitCode, out: conf.stdout }).toMatchObject({ code: 0 });
      expect(conf.stdout).toContain("sourcedir /etc/chrony/sources.d");
      const sh = await chroot(["/bin/sh", "-c", "id www-data && id _chrony && cat /var/www/html/index.html"]);
      expect(sh.exitCode).toBe(0);
      expect(sh.stdout).toContain("powernode nginx-light");
      for (const l of ["bin", "sbin", "lib", "lib64"])
        expect(lstatSync(join(root, l)).isSymbolicLink()).toBe(true);
      // Every applet link of the recipe is an applet of this busybox.
      const applets = new Set((await chroot(["/usr/bin/busybox", "--list"])).stdout.split("\n"));
      const links = Object.keys(recipe("system-base").symlinks).map((p) => p.slice(p.lastIndexOf("/") + 1));
      expect(links.filter((a) => !applets.has(a))).toEqual([]);
      const tz = await chroot(["/usr/bin/find", "/usr/share/zoneinfo", "-type", "f"]);
      expect(tz.stdout.split("\n").length).toBeGreaterThan(500);
      expect(readFileSync(join(root, "etc/ssl/certs/ca-certificates.crt"), "utf8")).toContain(
        "BEGIN CERTIFICATE",
      );
      expect(() => lstatSync(join(root, "usr/share/man"))).toThrow();
    });
    // The service itself: nginx with the recipe's argv serves the page, in a private network namespace
    // (loopback only). /dev/null is made in the tmpfs upper (a node has devtmpfs; busybox sh needs it).
    await withComposedRoot(order as BuiltModule["files"][], async (root) => {
      await exec.run("mknod", ["-m", "666", join(root, "dev/null"), "c", "1", "3"]);
      const argv = built["nginx-light"]?.manifest.services[0]?.exec ?? [];
      const quoted = argv.map((a) => `'${a}'`).join(" ");
      const script = `ip link set lo up; ${quoted} & pid=$!; i=0; until wget -qO- http://127.0.0.1/; do i=$((i+1)); [ $i -gt 100 ] && echo "nginx did not answer within 10 s" >&2 && break; sleep 0.1; done; kill $pid`;
      const r = await exec.run("unshare", ["-n", "chroot", root, "/bin/sh", "-c", script], {
        timeoutMs: 30_000,
        allowFailure: true,
      });
      expect({ out: r.stdout, err: r.stderr }).toMatchObject({
        out: expect.stringContaining("<h1>powernode nginx-light</h1>"),
      });
    });
    // chronyd starts from the composed root without network (-x: never touch the host's clock), drops to
    // _chrony and writes its drift file into the directory the recipe hands to that user.
    await withComposedRoot(order as BuiltModule["files"][], async (root) => {
      await exec.run("mknod", ["-m", "666", join(root, "dev/null"), "c", "1", "3"]);
      const r = await exec.run(
        "unshare",
        ["-n", "chroot", root, "/usr/bin/busybox", "timeout", "2", "/usr/sbin/chronyd", "-x", "-d"],
        { timeoutMs: 30_000, allowFailure: true },
      );
      expect(r.stderr).toContain("chronyd version 4.3 starting");
      expect(r.stderr).not.toMatch(/Fatal|Could not/i);
      expect(lstatSync(join(root, "var/lib/chrony/chrony.drift")).uid).toBe(100);
    });
    // Only system-base carries the links: a real /lib in nginx-light would hide the base's link.
    await withComposedRoot([built["nginx-light"]?.files as BuiltModule["files"]], async (root) => {
      expect(() => lstatSync(join(root, "lib"))).toThrow();
      expect(lstatSync(join(root, "usr/sbin/nginx")).isFile()).toBe(true);
    });
  }, 60_000);
});

describe("in-tree recipes, arm64", () => {
  test("nginx-light for arm64 holds aarch64 binaries (mounted on the host; not executed: no binfmt here)", async () => {
    const b = await buildRecipe(recipe("nginx-light"), "arm64", join(work, "nginx-arm64"));
    expect(b.manifest.arch).toBe("arm64");
    expect(b.manifest.source.packages).toContain("nginx=");
    await withComposedRoot([b.files], async (root) => {
      const elf = readFileSync(join(root, "usr/sbin/nginx"));
      expect(elf.subarray(0, 4).toString("latin1")).toBe("\x7fELF");
      expect(elf.readUInt16LE(18)).toBe(0xb7); // e_machine = EM_AARCH64
      expect(readFileSync(join(root, "etc/nginx/nginx.conf"), "utf8")).toContain("listen 80 default_server;");
    });
  }, 60_000);
});

describe("directory and tar sources", () => {
  test("a directory and the tar of it give the same module; version is required without Debian packages", async () => {
    const src = join(work, "src");
    mkdirSync(join(src, "usr/bin"), { recursive: true });
    mkdirSync(join(src, "lib"), { recursive: true });
    writeFileSync(
      join(src, "usr/bin/hello"),
      "#!/bin/sh\necho hello from a module, long enough to be an object\n",
      {
        mode: 0o755,
      },
    );
    writeFileSync(join(src, "lib/data.txt"), "x".repeat(100));
    symlinkSync("hello", join(src, "usr/bin/hi"));
    const common = { name: "hello", version: "1.0", arch: "arm64", priority: 5 } as const;
    const fromDir = await buildModule({ ...common, source: { dir: src }, outDir: join(work, "hello-dir") });
    const tar = join(work, "src.tar");
    await exec.run("tar", ["-c", "-f", tar, "-C", src, "."]);
    const fromTar = await buildModule({ ...common, source: { tar }, outDir: join(work, "hello-tar") });
    expect(fromTar.manifest.metadataDigest).toBe(fromDir.manifest.metadataDigest);
    expect(fromTar.manifest.verityRootHash).toBe(fromDir.manifest.verityRootHash);
    expect(fromDir.manifest.source).toEqual({ type: "dir", path: src });
    await withComposedRoot([fromDir.files], async (root) => {
      expect(readFileSync(join(root, "usr/lib/data.txt"), "utf8")).toBe("x".repeat(100)); // /lib merged into /usr
      expect(lstatSync(join(root, "usr/bin/hello")).mode & 0o777).toBe(0o755);
    });
    await expect(
      buildModule({ ...common, version: undefined, source: { dir: src }, outDir: join(work, "x") }),
    ).rejects.toThrow("module hello: version required");
  }, 60_000);

  test("Debian versions become module versions the catalog accepts", () => {
    expect(toModuleVersion("1:1.35.0-4+deb12u1+b1")).toBe("1_1.35.0-4+deb12u1+b1");
    expect(toModuleVersion("20250419~deb12u2")).toBe("20250419_deb12u2");
  });
});
