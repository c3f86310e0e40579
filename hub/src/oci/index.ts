/**
 * The hub's OCI distribution registry (module artifacts) and its push/pull client.
 */

export type {
  ArtifactBlob,
  ArtifactInput,
  ClientOptions,
  Descriptor,
  FetchBlobOptions,
  FetchedBlob,
  FetchedManifest,
  OciClientErrorKind,
} from "@powernode/oci";
export {
  fetchBlobToFile,
  fetchManifest,
  MODULE_ARTIFACT_TYPE,
  MODULE_COMPOSEFS_MEDIA_TYPE,
  MODULE_CONFIG_MEDIA_TYPE,
  MODULE_EROFS_BLOB_MEDIA_TYPE,
  MODULE_VERITY_HASHTREE_MEDIA_TYPE,
  OciClientError,
  pushArtifact,
  pushBlob,
} from "@powernode/oci";
export type { BlobInfo, UploadInfo } from "./blob-store.ts";
export type { OciErrorCode, OciErrorEntry } from "./errors.ts";
export type { OciHandle, OciLogger, OciRegistryOptions } from "./handler.ts";
export { createOciHandler } from "./handler.ts";
export {
  DOCKER_MANIFEST,
  DOCKER_MANIFEST_LIST,
  MANIFEST_MEDIA_TYPES,
  MAX_MANIFEST_BYTES,
  OCI_EMPTY,
  OCI_INDEX,
  OCI_MANIFEST,
} from "./manifest.ts";
export type { PurgeOptions, PurgeResult } from "./purge.ts";
export { purgeStale } from "./purge.ts";
export type { OciPlugin, OciRegistry } from "./registry.ts";
export { createOciRegistry, OCI_MAX_REQUEST_BODY_BYTES } from "./registry.ts";
