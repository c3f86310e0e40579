/** @powernode/oci: the OCI distribution client (pull and push, digest-verified) and the module artifact format. */
export {
  type ArtifactBlob,
  type ArtifactInput,
  type ClientOptions,
  type Descriptor,
  type FetchBlobOptions,
  type FetchedBlob,
  type FetchedManifest,
  fetchBlobToFile,
  fetchManifest,
  OciClientError,
  type OciClientErrorKind,
  pushArtifact,
  pushArtifactDescriptor,
  pushBlob,
} from "./client.ts";
export {
  AGENT_ARTIFACT_TYPE,
  AGENT_BINARY_MEDIA_TYPE,
  AGENT_CONFIG_MEDIA_TYPE,
  MODULE_ARTIFACT_TYPE,
  MODULE_COMPOSEFS_MEDIA_TYPE,
  MODULE_CONFIG_MEDIA_TYPE,
  MODULE_EROFS_BLOB_MEDIA_TYPE,
  MODULE_VERITY_HASHTREE_MEDIA_TYPE,
} from "./media-types.ts";
export {
  type ManifestParse,
  type ModuleManifest,
  type ModuleService,
  parseModuleManifest,
} from "./module-manifest.ts";
export {
  type Challenge,
  createRegistryFetch,
  parseChallenge,
  RegistryAuthError,
  type RegistryCredential,
  type RegistryFetchOptions,
} from "./registry-fetch.ts";
