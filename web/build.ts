/**
 * The console's build: `bun build` (Bun.build) of `src/main.ts` for the browser, minified, content-hashed
 * file names, and `index.html` from `src/index.html` with the hashed script and stylesheet linked (no
 * inline script or style). The hub builds it in memory when the console is first asked for
 * (hub/src/console); `bun web/build.ts [--out DIR]` writes the same files to a directory.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** One built file, served under `assets/<name>`. */
export interface ConsoleAsset {
  name: string;
  contentType: string;
  bytes: Uint8Array<ArrayBuffer>;
}

export interface ConsoleBuild {
  indexHtml: string;
  assets: ConsoleAsset[];
}

const SRC = join(import.meta.dir, "src");
/** Where index.html links the hashed files: relative, so the console works under any origin and scheme. */
export const ASSET_DIR = "assets";
const MARKER = "<!-- assets -->";

const TYPES: Record<string, string> = {
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
};

/** Builds the console; throws with the bundler's messages when the sources do not build. */
export async function buildConsole(): Promise<ConsoleBuild> {
  const result = await Bun.build({
    entrypoints: [join(SRC, "main.ts")],
    target: "browser",
    minify: true,
    naming: "[name]-[hash].[ext]",
    throw: false,
  });
  if (!result.success) {
    throw new Error(`building the web console: ${result.logs.map((l) => String(l)).join("; ")}`);
  }
  const assets: ConsoleAsset[] = [];
  for (const out of result.outputs) {
    const name = out.path.replace(/^.*\//, "");
    const ext = name.split(".").pop() ?? "";
    const contentType = TYPES[ext];
    if (!contentType) throw new Error(`building the web console: unexpected output ${name}`);
    assets.push({ name, contentType, bytes: new Uint8Array(await out.arrayBuffer()) });
  }
  const links = assets
    .map((a) =>
      a.name.endsWith(".css")
        ? `<link rel="stylesheet" href="${ASSET_DIR}/${a.name}">`
        : `<script type="module" src="${ASSET_DIR}/${a.name}"></script>`,
    )
    .join("\n    ");
  const template = readFileSync(join(SRC, "index.html"), "utf8");
  if (!template.includes(MARKER)) throw new Error(`web/src/index.html: no ${MARKER} marker`);
  return { indexHtml: template.replace(MARKER, links), assets };
}

/** `bun web/build.ts [--out DIR]`: writes the console to DIR (default web/dist). */
async function writeConsole(out: string): Promise<void> {
  const built = await buildConsole();
  mkdirSync(join(out, ASSET_DIR), { recursive: true });
  writeFileSync(join(out, "index.html"), built.indexHtml);
  for (const a of built.assets) writeFileSync(join(out, ASSET_DIR, a.name), a.bytes);
  console.log(`${out}: index.html, ${built.assets.map((a) => `${a.name} (${a.bytes.length} B)`).join(", ")}`);
}

// No top-level await: the hub, which imports this file, is compiled with --bytecode (CommonJS).
if (import.meta.main) {
  const i = process.argv.indexOf("--out");
  writeConsole(i >= 0 ? (process.argv[i + 1] ?? "") : join(import.meta.dir, "dist")).catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
