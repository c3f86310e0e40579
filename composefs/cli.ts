#!/usr/bin/env bun
/**
 * `bun composefs/cli.ts <command>`: build and inspect composefs images, fs-verity digests and dm-verity trees.
 * Exit codes: 0 ok, 1 failure (bad image, verification failed, I/O), 2 usage error.
 */
import { readFileSync, statSync, writeFileSync } from "node:fs";
import type { DirNode } from "./src/index.ts";
import {
  buildModuleImages,
  createObjectStore,
  formatVerity,
  fromHex,
  fsVerityDigestFile,
  parseDump,
  readImage,
  toDump,
  toHex,
  treeFromDirectory,
  treeFromTarStream,
  verifyVerity,
  writeImage,
} from "./src/index.ts";

const USAGE = `usage: bun composefs/cli.ts <command>
  mkcomposefs <src dir|dump file|tar> <out.cfs> [--digest-store DIR]
  inspect <img.cfs>
  digest <file> [--salt HEX]
  verity format <data> <hash> [--no-superblock] [--salt HEX] [--uuid UUID]
  verity verify <data> <hash> <root-hex> [--no-superblock --salt HEX]
  module <src dir> <out dir>`;

class UsageError extends Error {}

interface Parsed {
  pos: string[];
  flags: Map<string, string | true>;
}

function parseArgs(argv: string[], valued: string[], bare: string[]): Parsed {
  const pos: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (!a.startsWith("--")) {
      pos.push(a);
      continue;
    }
    const [k, inline] = a.slice(2).split("=", 2) as [string, string | undefined];
    if (bare.includes(k)) flags.set(k, true);
    else if (valued.includes(k)) {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new UsageError(`--${k} needs a value`);
      flags.set(k, v);
    } else throw new UsageError(`unknown option --${k}`);
  }
  return { pos, flags };
}

function need(p: Parsed, n: number, what: string): string[] {
  if (p.pos.length !== n) throw new UsageError(`${what}: expected ${n} arguments, got ${p.pos.length}`);
  return p.pos;
}

function hexFlag(p: Parsed, k: string): Uint8Array | undefined {
  const v = p.flags.get(k);
  if (v === undefined || v === true) return undefined;
  if (v === "-") return new Uint8Array(0);
  try {
    return fromHex(v);
  } catch {
    throw new UsageError(`--${k}: not a hex string`);
  }
}

async function loadTree(src: string, storeDir: string | undefined): Promise<DirNode> {
  const store = storeDir ? createObjectStore(storeDir) : undefined;
  if (statSync(src).isDirectory()) return treeFromDirectory(src, store ? { store } : {});
  const head = new Uint8Array(await Bun.file(src).slice(0, 512).arrayBuffer());
  const isTar = head.length === 512 && Buffer.from(head.subarray(257, 262)).toString("latin1") === "ustar";
  // Tar archives are streamed (layers can be large); dumps are text and read whole.
  const r = isTar
    ? await treeFromTarStream(Bun.file(src).stream(), store ? { store } : {})
    : parseDump(readFileSync(src).toString("latin1"));
  if (!r.ok) throw new Error(`${src}: ${r.error.message}`);
  return r.value;
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case "mkcomposefs": {
      const p = parseArgs(rest, ["digest-store"], []);
      const [src, out] = need(p, 2, "mkcomposefs") as [string, string];
      const store = p.flags.get("digest-store");
      const { image, digest } = writeImage(
        await loadTree(src, typeof store === "string" ? store : undefined),
      );
      writeFileSync(out, image);
      console.log(toHex(digest));
      return 0;
    }
    case "inspect": {
      const [img] = need(parseArgs(rest, [], []), 1, "inspect") as [string];
      const r = readImage(readFileSync(img));
      if (!r.ok) {
        console.error(`${img}: invalid composefs image: ${r.error.message}`);
        return 1;
      }
      console.log(
        `# composefs version ${r.value.version}, ${r.value.inodes} inodes${r.value.hasAcl ? ", has ACLs" : ""}`,
      );
      process.stdout.write(toDump(r.value.root));
      return 0;
    }
    case "digest": {
      const p = parseArgs(rest, ["salt"], []);
      const [file] = need(p, 1, "digest") as [string];
      const salt = hexFlag(p, "salt");
      console.log(`sha256:${toHex(fsVerityDigestFile(file, salt ? { salt } : {}))} ${file}`);
      return 0;
    }
    case "verity": {
      const [sub, ...more] = rest;
      const p = parseArgs(more, ["salt", "uuid"], ["no-superblock"]);
      const superblock = !p.flags.has("no-superblock");
      if (sub === "format") {
        const [data, hash] = need(p, 2, "verity format") as [string, string];
        const salt = hexFlag(p, "salt") ?? crypto.getRandomValues(new Uint8Array(32));
        const uuidArg = p.flags.get("uuid");
        const uuid =
          typeof uuidArg === "string"
            ? fromHex(uuidArg.replaceAll("-", ""))
            : crypto.getRandomValues(new Uint8Array(16));
        const r = formatVerity(data, hash, { salt, uuid, superblock });
        console.log(
          `Data blocks:\t${r.dataBlocks}\nSalt:\t\t${toHex(salt) || "-"}\nRoot hash:\t${toHex(r.rootHash)}`,
        );
        return 0;
      }
      if (sub === "verify") {
        const [data, hash, root] = need(p, 3, "verity verify") as [string, string, string];
        const salt = hexFlag(p, "salt");
        const r = verifyVerity(data, hash, fromHex(root), { superblock, ...(salt ? { salt } : {}) });
        if (r.ok) {
          console.log("verification ok");
          return 0;
        }
        console.error(`verification failed: ${r.area} block ${r.block}: ${r.problem}`);
        return 1;
      }
      throw new UsageError(`verity: unknown subcommand ${JSON.stringify(sub ?? "")}`);
    }
    case "module": {
      const [src, out] = need(parseArgs(rest, [], []), 2, "module") as [string, string];
      console.log(JSON.stringify(await buildModuleImages(src, out), null, 2));
      return 0;
    }
    default:
      throw new UsageError(cmd ? `unknown command ${JSON.stringify(cmd)}` : "no command given");
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (e) {
  if (e instanceof UsageError) {
    console.error(`${e.message}\n${USAGE}`);
    process.exitCode = 2;
  } else {
    console.error(`error: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 1;
  }
}
