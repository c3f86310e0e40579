/**
 * Per-repository manifest index and tags on the filesystem. Manifest bytes live in the blob store;
 * a repository only records which manifests it holds and what its tags point to:
 * - `repositories/<name>/_manifests/<hex>`: `{"mediaType":…,"size":…}` for each manifest of the repo;
 * - `repositories/<name>/_tags/<tag>`: the `sha256:<hex>` digest the tag points to;
 * - `repositories/<name>/_referrers/<subject hex>/<hex>`: the descriptor of a manifest whose `subject`
 *   is that digest (OCI distribution v1.1 referrers API).
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
  /** Hex of the `subject` digest, when the manifest has one. */
  subjectHex?: string;
}

/** A referrer as listed by the referrers API (an OCI descriptor). */
export interface ReferrerDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

/** The manifest index and tags of all repositories. */
export interface ManifestStore {
  /** Records manifest `digest` in repository `name`, and points `tag` at it when given. */
  put(
    name: string,
    digest: Digest,
    mediaType: string,
    size: number,
    opts?: { tag?: string; subject?: Digest; referrer?: ReferrerDescriptor },
  ): Promise<void>;
  /** Descriptors of the manifests in `name` whose subject is `subject`, sorted by digest. */
  listReferrers(name: string, subject: Digest): Promise<ReferrerDescriptor[]>;
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
  const referrersDir = (name: string, subjectHex: string) => join(repoDir(name), "_referrers", subjectHex);
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
    const meta = JSON.parse(text) as { mediaType: string; size: number; subject?: string };
    const entry: ManifestEntry = {
      digest: digest.text,
      hex: digest.hex,
      mediaType: meta.mediaType,
      size: meta.size,
    };
    if (meta.subject) entry.subjectHex = meta.subject;
    return entry;
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
    async put(name, digest, mediaType, size, opts = {}) {
      await mkdir(manifestsDir(name), { recursive: true });
      const meta = { mediaType, size, ...(opts.subject ? { subject: opts.subject.hex } : {}) };
      // The referrer entry is written before the manifest is visible, so listings never miss it.
      if (opts.subject && opts.referrer) {
        await mkdir(referrersDir(name, opts.subject.hex), { recursive: true });
        await writeAtomic(
          join(referrersDir(name, opts.subject.hex), digest.hex),
          JSON.stringify(opts.referrer),
        );
      }
      await writeAtomic(join(manifestsDir(name), digest.hex), JSON.stringify(meta));
      if (opts.tag !== undefined) {
        await mkdir(tagsDir(name), { recursive: true });
        await writeAtomic(join(tagsDir(name), opts.tag), digest.text);
      }
    },

    async listReferrers(name, subject) {
      let names: string[];
      try {
        names = (await readdir(referrersDir(name, subject.hex))).sort();
      } catch (e) {
        if (isNotFound(e)) return [];
        throw new Error(`listing referrers of ${subject.text} in ${name}`, { cause: e });
      }
      const out: ReferrerDescriptor[] = [];
      for (const n of names) {
        const text = await readText(join(referrersDir(name, subject.hex), n));
        if (text !== undefined) out.push(JSON.parse(text) as ReferrerDescriptor);
      }
      return out;
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
      if (entry.subjectHex) await rm(join(referrersDir(name, entry.subjectHex), digest.hex), { force: true });
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
