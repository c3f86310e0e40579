/**
 * build-manifest.json and SHA256SUMS: what went into an image and what came out. Pure.
 */
import { createHash } from "node:crypto";
import type { Arch } from "../versions.ts";
import type { CpioEntry } from "./cpio.ts";

/** One member of the initramfs as listed in the manifest. */
export interface ManifestFile {
  path: string;
  kind: CpioEntry["kind"];
  mode: string;
  size: number;
  sha256?: string;
  target?: string;
}

export interface ArtifactInfo {
  sha256: string;
  size: number;
}

/** build-manifest.json, schema 1. No timestamps: the same inputs give the same manifest. */
export interface BuildManifest {
  schemaVersion: 1;
  arch: Arch;
  /** sha256 over every input (builder sources, packages, agent binary, options); equal hash = reuse. */
  inputHash: string;
  sourceDateEpoch: number;
  kernel: { package: string; version: string; release: string };
  /** Debian packages taken into the image, name -> version. */
  packages: Record<string, string>;
  bun: { version: string; runtimePackage: string };
  agent: { gitSha: string; dirty: boolean; sha256: string; size: number; path: string };
  /** Custom /init given with --init (sha256), if any. */
  init?: ArtifactInfo;
  modules: { roots: string[]; builtin: string[]; loadOrder: string[]; warnings: string[] };
  artifacts: { kernel: ArtifactInfo; "initramfs.cpio.zst": ArtifactInfo; uncompressedCpio: ArtifactInfo };
  files: ManifestFile[];
}

/** Hex sha256 of bytes or a string. */
export function sha256Hex(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

/** ArtifactInfo of some bytes. */
export function artifactOf(data: Uint8Array): ArtifactInfo {
  return { sha256: sha256Hex(data), size: data.length };
}

function toManifestFile(e: CpioEntry): ManifestFile {
  switch (e.kind) {
    case "file":
      return {
        path: e.path,
        kind: e.kind,
        mode: e.mode.toString(8),
        size: e.data.length,
        sha256: sha256Hex(e.data),
      };
    case "symlink":
      return { path: e.path, kind: e.kind, mode: "777", size: e.target.length, target: e.target };
    case "dir":
      return { path: e.path, kind: e.kind, mode: e.mode.toString(8), size: 0 };
    case "chardev":
      return {
        path: e.path,
        kind: e.kind,
        mode: e.mode.toString(8),
        size: 0,
        target: `${e.major}:${e.minor}`,
      };
  }
}

/** The manifest's file list, sorted by path (a symlink's size is its target's length, as in cpio). */
export function listFiles(entries: readonly CpioEntry[]): ManifestFile[] {
  return [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)).map(toManifestFile);
}

/** sha256sum(1) format: `<hex>  <name>` per line, sorted by name. */
export function formatSha256Sums(files: Record<string, string>): string {
  return Object.keys(files)
    .sort()
    .map((name) => `${files[name]}  ${name}\n`)
    .join("");
}

/** Hash of a canonical JSON rendering (sorted keys), used for the input hash. */
export function hashInputs(value: unknown): string {
  const canon = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(canon);
    if (v && typeof v === "object") {
      return Object.fromEntries(
        Object.entries(v as Record<string, unknown>)
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
          .map(([k, x]) => [k, canon(x)]),
      );
    }
    return v;
  };
  return sha256Hex(JSON.stringify(canon(value)));
}
