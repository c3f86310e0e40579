/**
 * Media types powernode uses for module artifacts (see docs/oci.md). A module version is one OCI image
 * manifest with `artifactType` MODULE_ARTIFACT_TYPE, a config blob holding the module manifest, and
 * its images as layers.
 */

/** `artifactType` of a module manifest. */
export const MODULE_ARTIFACT_TYPE = "application/vnd.powernode.module.v1+json";
/** Config blob: the module manifest (name, version, digests, verity root hash) as JSON. */
export const MODULE_CONFIG_MEDIA_TYPE = "application/vnd.powernode.module.config.v1+json";
/** Layer: the composefs metadata image (EROFS); its fs-verity digest is the module's recorded digest. */
export const MODULE_COMPOSEFS_MEDIA_TYPE = "application/vnd.powernode.composefs.v1";
/** Layer: the EROFS blob image holding the module's content objects, protected by dm-verity. */
export const MODULE_EROFS_BLOB_MEDIA_TYPE = "application/vnd.powernode.erofs.blob.v1";
/** Layer: the dm-verity hash tree of the EROFS blob image (root hash recorded in the config). */
export const MODULE_VERITY_HASHTREE_MEDIA_TYPE = "application/vnd.powernode.verity.hashtree.v1";

/** `artifactType` of an agent build (`powernode/agent:<version>-<arch>`, docs/runbooks/agent-update.md). */
export const AGENT_ARTIFACT_TYPE = "application/vnd.powernode.agent.v1+json";
/** Config blob of an agent build: `{ version, arch, sha256, size }` of the binary. */
export const AGENT_CONFIG_MEDIA_TYPE = "application/vnd.powernode.agent.config.v1+json";
/** Layer: the Bun-compiled agent binary. */
export const AGENT_BINARY_MEDIA_TYPE = "application/vnd.powernode.agent.binary.v1";
