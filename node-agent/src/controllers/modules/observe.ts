/**
 * What the heartbeat reports of one mounted module: the fs-verity digest of its metadata image as
 * mounted (recomputed through the mounted file's fd when its inode, mtime or size changed), the root
 * hash in the table the kernel holds, and whether dm-verity has seen corruption.
 */
import { verityHealthFromStatus, verityRootFromTable } from "../../sys/dm.ts";
import type { FileStamp, ModuleSys } from "../../sys/module-sys.ts";
import { errMsg, type LiveModule } from "./module-mounts.ts";

/** One entry of Heartbeat.modules. */
export interface ModuleObservationValue {
  name: string;
  version: string;
  metadataDigest: string;
  verityRootHash: string;
  state: "mounted" | "failed" | "pending";
  message: string;
}

/**
 * Where a mounted module came from, when that is news: another location than the hub, or the hub after
 * others failed (`from hub https://...; origin http://...: HTTP 401 ...`). Bounded for the heartbeat.
 */
export function sourceNote(source: LiveModule["files"]["source"] | undefined): string {
  if (!source || (source.role === "hub" && source.skipped.length === 0)) return "";
  const note = [`from ${source.role} ${source.reference}`, ...source.skipped].join("; ");
  return note.length > 400 ? `${note.slice(0, 399)}…` : note;
}

const sameStamp = (a: FileStamp, b: FileStamp) =>
  a.ino === b.ino && a.dev === b.dev && a.mtimeMs === b.mtimeMs && a.size === b.size;

/** Observes one mounted module (updates its cached digest). */
export function observeMounted(sys: ModuleSys, m: LiveModule): ModuleObservationValue {
  const a = m.assignment;
  let digest = m.digest.value;
  let message = sourceNote(m.files.source);
  let state: ModuleObservationValue["state"] = "mounted";
  try {
    const stamp = sys.stampFd(m.metaFd);
    if (!sameStamp(stamp, m.digest.stamp)) {
      digest = sys.fsVerityDigestFd(m.metaFd);
      m.digest = { stamp, value: digest };
    }
  } catch (err) {
    message = `metadata digest: ${errMsg(err)}`;
  }
  if (digest !== a.metadataDigest)
    message = `metadata image changed since it was mounted: expected ${a.metadataDigest}, got ${digest}`;
  let root = "";
  try {
    const s = sys.dmStatus(m.dmName);
    root = verityRootFromTable(s.table) ?? "";
    if (verityHealthFromStatus(s.status) === "C") {
      state = "failed";
      message = `dm-verity detected corruption on ${m.dmName}`;
    }
  } catch (err) {
    state = "failed";
    message = `dm-verity ${m.dmName}: ${errMsg(err)}`;
  }
  if (m.eio && state === "mounted") {
    state = "failed";
    message = m.eio;
  }
  return { name: a.name, version: a.version, metadataDigest: digest, verityRootHash: root, state, message };
}
