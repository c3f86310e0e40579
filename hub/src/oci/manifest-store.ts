/**
 * Per-repository manifest index and tags on the filesystem. Manifest bytes live in the blob store;
 * a repository only records which manifests it holds and what its tags point to:
 * - `repositories/<name>/_manifests/<hex>`: `{"mediaType":…,"size":…}` for each manifest of the repo;
 * - `repositories/<name>/_tags/<tag>`: the `sha256:<hex>` digest the tag points to.
 *
 * The `_` prefix cannot start a name component, so a repository `a/_tags` cannot collide with the
 * tags of repository `a` (the same trick as the distribution registry's `_manifests`).
 */
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Digest } from "./reference.ts";

/** A manifest recorded in a repository. */
export interface ManifestEntry {
  digest: string;
  hex: string;
  mediaType: string;
  size: number;
}

/** The manifest index and tags of all repositories. */
export interface ManifestStore {
  /** Records manifest `digest` in repository `name`, and points `tag` at it when given. */
  put(name: string, digest: Digest, mediaType: string, size: number, tag?: string): Promise<void>;
  get(name: string, digest: Digest): Promise<ManifestEntry | undefined>;
  /** The digest a tag points to, if the tag exists. */
  resolveTag(name: string, tag: string): Promise<string | undefined>;
  /** Sorted tags, or undefined when the repository does not exist. */
  listTags(name: string): Promise<string[] | undefined>;
  /** Removes a manifest from the repository and every tag pointing to it; false if it was not there. */
  deleteManifest(name: string, digest: Digest): Promise<boolean>;
  deleteTag(name: string, tag: string): Promise<boolean>;
}

/** Creates the manifest store rooted at `dataDir`. */
export function createManifestStore(dataDir: string): ManifestStore {
  const repoDir = (name: string) => join(dataDir, "repositories", ...name.split("/"));
  const manifestsDir = (name: string) => join(repoDir(name), "_manifests");
  const tagsDir = (name: string) => join(repoDir(name), "_tags");
  const tmpDir = join(dataDir, "tmp");

  /** Writes a small file atomically (temp + rename), so readers never see half a tag. */
  const writeAtomic = async (path: string, text: string) => {
    await mkdir(tmpDir, { recursive: true });
    const tmp = join(tmpDir, crypto.randomUUID());
    await writeFile(tmp, text);
    await rename(tmp, path);
  };

  const readText = async (path: string): Promise<string | undefined> => {
    try {
      return await readFile(path, "utf8");
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw new Error(`reading ${path}`, { cause: e });
    }
  };

  const get = async (name: string, digest: Digest): Promise<ManifestEntry | undefined> => {
    const text = await readText(join(manifestsDir(name), digest.hex));
    if (text === undefined) return undefined;
    const meta = JSON.parse(text) as { mediaType: string; size: number };
    return { digest: digest.text, hex: digest.hex, mediaType: meta.mediaType, size: meta.size };
  };

  const listTags = async (name: string): Promise<string[] | undefined> => {
    try {
      return (await readdir(tagsDir(name))).sort();
    } catch (e) {
      if (!isNotFound(e)) throw new Error(`listing tags of ${name}`, { cause: e });
    }
    // A repository with manifests but no tags (pushed by digest only) exists and has no tags.
    try {
      return (await stat(manifestsDir(name))).isDirectory() ? [] : undefined;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw new Error(`reading repository ${name}`, { cause: e });
    }
  };

  return {
    async put(name, digest, mediaType, size, tag) {
      await mkdir(manifestsDir(name), { recursive: true });
      await writeAtomic(join(manifestsDir(name), digest.hex), JSON.stringify({ mediaType, size }));
      if (tag !== undefined) {
        await mkdir(tagsDir(name), { recursive: true });
        await writeAtomic(join(tagsDir(name), tag), digest.text);
      }
    },

    get,

    async resolveTag(name, tag) {
      return (await readText(join(tagsDir(name), tag)))?.trim();
    },

    listTags,

    async deleteManifest(name, digest) {
      const entry = await get(name, digest);
      if (!entry) return false;
      for (const tag of (await listTags(name)) ?? []) {
        if ((await readText(join(tagsDir(name), tag)))?.trim() === digest.text) {
          await rm(join(tagsDir(name), tag), { force: true });
        }
      }
      await rm(join(manifestsDir(name), digest.hex), { force: true });
      return true;
    },

    async deleteTag(name, tag) {
      if ((await readText(join(tagsDir(name), tag))) === undefined) return false;
      await rm(join(tagsDir(name), tag), { force: true });
      return true;
    },
  };
}

function isNotFound(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === "ENOENT" || code === "ENOTDIR";
}
