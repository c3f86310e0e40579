import { describe, expect, test } from "bun:test";
import { randomTree } from "../test/harness.ts";
import { parseDump, toDump } from "./dump.ts";
import { escapeDumpField, escapeOptional } from "./dump-escape.ts";

describe("composefs-dump text", () => {
  test("escapes as composefs-info dump: \\n \\r \\t \\\\, \\xNN outside '!'..'~', '=' in xattrs, '-' only where optional", () => {
    expect(escapeDumpField("a b\\c\n\t\r\x7f\xff")).toBe("a\\x20b\\\\c\\n\\t\\r\\x7f\\xff");
    expect(escapeDumpField("k=v", { equal: true })).toBe("k\\x3dv");
    expect(escapeDumpField("k=v")).toBe("k=v");
    expect([
      escapeOptional("-"),
      escapeOptional(undefined),
      escapeOptional(""),
      escapeDumpField("-"),
    ]).toEqual(["\\x2d", "-", "", "-"]);
  });

  test("xattr values '-' and empty are values (key=- and key=), payload '-' is absent", () => {
    const r = parseDump(
      "/ 0 40755 2 0 0 0 -5.7 - - - user.a=- user.b= user.c=\\x2d\n/-x 1 120777 1 0 0 0 0.0 \\x2d - -\n",
    );
    if (!r.ok) throw r.error;
    expect(r.value.xattrs.map((x) => [x.name, Buffer.from(x.value).toString()])).toEqual([
      ["user.a", "-"],
      ["user.b", ""],
      ["user.c", "-"],
    ]);
    expect(r.value.mtimeSec).toBe(-5);
    const link = r.value.children.get("-x");
    expect(link?.type === "symlink" && link.target).toBe("-");
    expect(toDump(r.value)).toBe(
      "/ 0 40755 2 0 0 0 -5.7 - - - user.a=- user.b= user.c=-\n/-x 1 120777 1 0 0 0 0.0 \\x2d - -\n",
    );
  });

  test("random trees survive toDump -> parseDump -> toDump", () => {
    for (let seed = 1; seed <= 20; seed++) {
      const text = toDump(randomTree(seed, { size: 60 }));
      const r = parseDump(text);
      if (!r.ok) throw new Error(`seed ${seed}: ${r.error.message}`);
      expect(toDump(r.value)).toBe(text);
    }
  });

  test("parses the documented example shapes, including hardlinks", () => {
    const text = [
      "/ 4096 40755 2 0 0 0 1633950376.0 - - - trusted.foo=bar",
      "/file 5 100644 2 1 2 0 1633950376.5 - hello - user.a=1",
      "/link 0 @100644 - - - - 0.0 /file - -",
      "/ext 4096 100600 1 0 0 0 0.0 ab/cd - abababababababababababababababababababababababababababababababab",
      "/sym 3 120777 1 0 0 0 0.0 abc - -",
    ].join("\n");
    const r = parseDump(text);
    if (!r.ok) throw r.error;
    expect(r.value.children.get("link")).toBe(r.value.children.get("file"));
    const ext = r.value.children.get("ext");
    expect(ext?.type === "file" && ext.redirect).toBe("ab/cd");
  });

  test("errors name the line", () => {
    const cases = [
      "",
      "/ 0 40755 1 0 0 0 0.0 - -",
      "/ 0 40755 1 0 0 0 0.0 - - -\n/a/b 0 100644 1 0 0 0 0.0 - - -",
      "/ 0 40755 1 x 0 0 0.0 - - -",
    ];
    for (const c of cases) {
      const r = parseDump(c);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error.problem).toMatch(/line \d+|no root/);
    }
  });
});

describe("hostile dump input", () => {
  test("2,000 mutated dumps give a tree or a typed error, never a crash", () => {
    const text = toDump(randomTree(9, { size: 40 }));
    let seed = 1;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed % n;
    };
    const alphabet = " \\x-=@/.0123456789abcdef\n";
    for (let i = 0; i < 2000; i++) {
      const chars = text.split("");
      for (let k = 1 + rnd(6); k > 0; k--)
        chars[rnd(chars.length)] = alphabet[rnd(alphabet.length)] as string;
      const r = parseDump(chars.join(""));
      if (!r.ok) expect(r.error.kind).toBe("composefs-format");
    }
  });
});
