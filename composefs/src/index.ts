/**
 * @powernode/composefs: composefs images (EROFS + overlay metadata) written and read in TypeScript, fs-verity
 * and dm-verity, and module images for the node runtime. Imports only libraries (external commands through @powernode/exec).
 */

export {
  encodeVeritySuperblock,
  formatVerity,
  parseVeritySuperblock,
  type VerityCheck,
  type VerityFormat,
  type VerityParams,
  verifyVerity,
  verityLevels,
} from "./dm-verity.ts";
export { parseDump, toDump } from "./dump.ts";
export { type DecodedXattrs, decodeOverlayXattrs, type ReadImage, readImage } from "./erofs-reader.ts";
// Images
export { type ComposefsImage, type WriteImageOptions, writeImage } from "./erofs-writer.ts";
// Errors
export { ComposefsFormatError, isComposefsFormatError, type ParseResult } from "./errors.ts";
// Verity
export {
  createFsVerityHasher,
  type FsVerityHasher,
  type FsVerityOptions,
  fromHex,
  fsVerityDigest,
  fsVerityDigestFile,
  toHex,
} from "./fsverity.ts";
export { readXattrs } from "./libc-ffi.ts";
export { BLOB_UUID, type BuildModuleOptions, buildModuleImages, type ModuleImages } from "./module-images.ts";
export { createObjectStore, type ObjectStore, type ObjectWriter } from "./object-store.ts";
// Trees and their sources
export type {
  DeviceNode,
  DirNode,
  FileNode,
  FileSize,
  NodeMeta,
  SpecialNode,
  SymlinkNode,
  TreeNode,
  WhiteoutNode,
  Xattr,
} from "./tree.ts";
export {
  bytesToName,
  createDir,
  digestToPath,
  MAX_FILE_SIZE,
  modeOf,
  nameToBytes,
  sizeToBigInt,
  utf8Name,
  walkTree,
} from "./tree.ts";
export { type TreeFromDirectoryOptions, treeFromDirectory } from "./tree-from-directory.ts";
export { type ParallelTreeOptions, treeFromDirectoryParallel } from "./tree-from-directory-parallel.ts";
export {
  createTarTreeBuilder,
  type TarTreeBuilder,
  type TreeFromTarOptions,
  treeFromTar,
  treeFromTarStream,
} from "./tree-from-tar.ts";
