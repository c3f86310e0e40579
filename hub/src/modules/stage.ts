/**
 * Shaping a staging root before it becomes a module: merged /usr (Debian bookworm packages still ship some
 * files under /bin, /lib, /sbin; every module keeps them under /usr, and only system-base carries the
 * `/bin -> usr/bin` links, because a real /lib directory in an upper layer would hide the base's link),
 * documentation dropped (copyright files kept), the recipe's own files, directories and links, and
 * normalised metadata so that two builds give identical images.
 */
import {
  chmodSync,
  copyFileSync,
  existsSync,
  lchownSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";

/** Top-level directories that merged /usr turns into links to their /usr namesakes. */
export const USRMERGE_DIRS = ["bin", "sbin", "lib", "lib32", "lib64", "libx32"] as const;

/** What {@link dropDocs} removes below /usr/share (doc keeps each package's copyright file). */
export const DROPPED_SHARE_DIRS = ["man", "info", "lintian", "doc-base", "bug", "locale"] as const;

function isDir(p: string): boolean {
  try {
    const st = lstatSync(p);
    return st.isDirectory();
  } catch {
    return false;
  }
}

/**
 * Moves `src`'s entries into `dst` recursively (directories merge; identical files or links on both sides
 * are fine); a different file, link or type at the same path throws, naming `what` and the path.
 */
export function mergeTree(src: string, dst: string, what: string, rel = ""): void {
  mkdirSync(dst, { recursive: true });
  for (const name of readdirSync(src)) {
    const s = join(src, name);
    const d = join(dst, name);
    const st = lstatSync(s);
    if (!existsSync(d) && !isSymlink(d)) {
      renameSync(s, d);
    } else if (st.isDirectory() && isDir(d)) {
      mergeTree(s, d, what, `${rel}/${name}`);
    } else if (sameEntry(s, d)) {
      rmSync(s, { recursive: true, force: true });
    } else {
      throw new Error(`${what}: ${rel}/${name} is already shipped, different (by another package or path)`);
    }
  }
  rmSync(src, { recursive: true, force: true });
}

function isSymlink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

function sameEntry(a: string, b: string): boolean {
  const x = lstatSync(a);
  const y = lstatSync(b);
  if (x.isSymbolicLink() && y.isSymbolicLink()) return readlinkSync(a) === readlinkSync(b);
  if (x.isFile() && y.isFile()) return x.size === y.size && readFileSync(a).equals(readFileSync(b));
  return false;
}

/** Moves /bin, /sbin, /lib* into /usr. With `links`, then creates `/bin -> usr/bin` etc. (system-base). */
export function mergeUsr(root: string, links: boolean, arch: string): void {
  for (const d of USRMERGE_DIRS) {
    const top = join(root, d);
    if (isDir(top)) mergeTree(top, join(root, "usr", d), `merged /usr (/${d} into /usr/${d})`, `/usr/${d}`);
    else if (isSymlink(top)) rmSync(top);
  }
  if (!links) return;
  const wanted = ["bin", "sbin", "lib", ...(arch === "amd64" ? ["lib64"] : [])];
  for (const d of wanted) {
    mkdirSync(join(root, "usr", d), { recursive: true });
    symlinkSync(`usr/${d}`, join(root, d));
  }
}

/** Drops documentation: /usr/share/{man,info,...} and /usr/share/doc except copyright files. */
export function dropDocs(root: string): void {
  for (const d of DROPPED_SHARE_DIRS) rmSync(join(root, "usr/share", d), { recursive: true, force: true });
  const doc = join(root, "usr/share/doc");
  if (!isDir(doc)) return;
  for (const pkg of readdirSync(doc)) {
    const dir = join(doc, pkg);
    if (!isDir(dir)) {
      rmSync(dir, { force: true }); // links like doc/<pkg> -> <other pkg>
      continue;
    }
    for (const f of readdirSync(dir))
      if (f !== "copyright") rmSync(join(dir, f), { recursive: true, force: true });
    if (readdirSync(dir).length === 0) rmSync(dir, { recursive: true });
  }
}

/**
 * Removes a recipe's `drop` paths (tools a node never runs, e.g. test binaries). A path that is not there
 * is an error: the packages changed and the recipe should say so.
 */
export function dropPaths(root: string, paths: readonly string[]): void {
  for (const p of paths) {
    const at = join(root, p);
    if (!existsSync(at) && !isSymlink(at)) throw new Error(`drop: ${p} is not in the unpacked packages`);
    rmSync(at, { recursive: true, force: true });
  }
}

/**
 * Copies a recipe's `files/` tree over the root (replacing what packages put there). Modes are normalised:
 * directories 0755, files 0755 when any execute bit is set in the checkout, else 0644 (a git checkout's
 * modes depend on the umask); owner root.
 */
export function copyRecipeFiles(filesDir: string, root: string): void {
  const walk = (src: string, dst: string) => {
    mkdirSync(dst, { recursive: true });
    chmodSync(dst, 0o755);
    for (const name of readdirSync(src).sort()) {
      const s = join(src, name);
      const d = join(dst, name);
      const st = lstatSync(s);
      if (st.isDirectory()) walk(s, d);
      else {
        rmSync(d, { recursive: true, force: true });
        if (st.isSymbolicLink()) symlinkSync(readlinkSync(s), d);
        else {
          copyFileSync(s, d);
          chmodSync(d, st.mode & 0o111 ? 0o755 : 0o644);
        }
      }
      lchownSync(d, 0, 0);
    }
  };
  walk(filesDir, root);
}

/**
 * Creates directories and symbolic links the recipe asks for; paths are absolute in the module. A directory
 * is `/path[:mode[:uid:gid]]` (default 0755, root:root; numeric ids, matching system-base's passwd).
 */
export function makeDirsAndLinks(root: string, dirs: readonly string[], links: Record<string, string>): void {
  for (const d of dirs) {
    const [path = "", mode, uid, gid] = d.split(":");
    const p = join(root, path);
    mkdirSync(p, { recursive: true });
    chmodSync(p, mode ? Number.parseInt(mode, 8) : 0o755);
    lchownSync(p, Number(uid ?? 0), Number(gid ?? 0));
  }
  for (const [path, target] of Object.entries(links).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const p = join(root, path);
    mkdirSync(dirname(p), { recursive: true });
    rmSync(p, { recursive: true, force: true });
    symlinkSync(target, p);
  }
}

/** Build-time steps a recipe may ask for (what maintainer scripts would have done). */
export const GENERATORS = ["ca-certificates-bundle"] as const;
export type Generator = (typeof GENERATORS)[number];

/**
 * Runs generators. `ca-certificates-bundle`: /etc/ssl/certs/ca-certificates.crt from the certificates in
 * /usr/share/ca-certificates (sorted by path), as update-ca-certificates does at install time.
 */
export function runGenerators(root: string, generators: readonly Generator[]): void {
  for (const g of generators) {
    if (g === "ca-certificates-bundle") {
      const src = join(root, "usr/share/ca-certificates");
      const certs: string[] = [];
      const walk = (dir: string) => {
        for (const name of readdirSync(dir).sort()) {
          const p = join(dir, name);
          if (isDir(p)) walk(p);
          else if (name.endsWith(".crt")) certs.push(p);
        }
      };
      if (!isDir(src)) throw new Error("generate ca-certificates-bundle: no /usr/share/ca-certificates");
      walk(src);
      if (certs.length === 0) throw new Error("generate ca-certificates-bundle: no certificates found");
      const out = join(root, "etc/ssl/certs/ca-certificates.crt");
      mkdirSync(dirname(out), { recursive: true });
      const text = certs.map((c) => {
        const t = readFileSync(c, "utf8");
        return t.endsWith("\n") ? t : `${t}\n`;
      });
      writeFileSync(out, text.join(""));
      chmodSync(out, 0o644);
    }
  }
}

/** Sets every entry's mtime (and atime) to `mtime` seconds: the build then depends only on content. */
export function normalizeTimes(root: string, mtime: number): void {
  const walk = (p: string) => {
    const st = lstatSync(p);
    if (st.isDirectory()) for (const name of readdirSync(p)) walk(join(p, name));
    lutimesSync(p, mtime, mtime);
  };
  walk(root);
}
