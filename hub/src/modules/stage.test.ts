import { afterAll, describe, expect, test } from "bun:test";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dropDocs, mergeTree, mergeUsr } from "./stage.ts";

const work = mkdtempSync(join(tmpdir(), "pn-stage-test-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function tree(name: string, files: Record<string, string>): string {
  const root = join(work, name);
  for (const [p, content] of Object.entries(files)) {
    mkdirSync(join(root, p, ".."), { recursive: true });
    if (content.startsWith("->")) symlinkSync(content.slice(2), join(root, p));
    else writeFileSync(join(root, p), content);
  }
  return root;
}

describe("staging", () => {
  test("merged /usr: /lib and /usr/lib merge, identical duplicates pass, links only when asked", () => {
    const root = tree("usr1", { "lib/a.so": "A", "usr/lib/b.so": "B", "bin/x": "X", "usr/bin/x": "X" });
    mergeUsr(root, false, "arm64");
    expect(existsSync(join(root, "usr/lib/a.so"))).toBe(true);
    expect(existsSync(join(root, "lib"))).toBe(false);
    mergeUsr(root, true, "amd64");
    expect(readlinkSync(join(root, "lib"))).toBe("usr/lib");
    expect(readlinkSync(join(root, "lib64"))).toBe("usr/lib64");
    const bad = tree("usr2", { "bin/x": "one", "usr/bin/x": "two" });
    expect(() => mergeUsr(bad, false, "amd64")).toThrow(
      "merged /usr (/bin into /usr/bin): /usr/bin/x is already shipped, different",
    );
  });

  test("packages merged into one root: a different file at the same path names the package and path", () => {
    const root = tree("root", { "etc/a.conf": "a", "usr/lib/l": "->x" });
    mergeTree(tree("p1", { "etc/b.conf": "b", "usr/lib/l": "->x" }), root, "package p1");
    expect(lstatSync(join(root, "etc/b.conf")).isFile()).toBe(true);
    expect(() => mergeTree(tree("p2", { "etc/a.conf": "other" }), root, "package p2")).toThrow(
      "package p2: /etc/a.conf is already shipped, different",
    );
  });

  test("docs dropped, copyright files kept", () => {
    const root = tree("docs", {
      "usr/share/doc/p/copyright": "c",
      "usr/share/doc/p/changelog.gz": "x",
      "usr/share/doc/q/README": "r",
      "usr/share/man/man1/p.1.gz": "m",
      "usr/share/locale/de/LC_MESSAGES/p.mo": "l",
    });
    dropDocs(root);
    expect(existsSync(join(root, "usr/share/doc/p/copyright"))).toBe(true);
    expect(existsSync(join(root, "usr/share/doc/p/changelog.gz"))).toBe(false);
    expect(existsSync(join(root, "usr/share/doc/q"))).toBe(false);
    expect(existsSync(join(root, "usr/share/man"))).toBe(false);
    expect(existsSync(join(root, "usr/share/locale"))).toBe(false);
  });
});
