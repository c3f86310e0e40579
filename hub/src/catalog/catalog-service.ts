/** CatalogService: modules and their published versions (bearer token required). */
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import type { CatalogService } from "@powernode/proto";
import type { Deps } from "../deps.ts";
import { DomainError } from "../errors.ts";
import { fromProtoArch, toProtoArch } from "../rpc/proto-convert.ts";
import {
  createModule,
  createModuleVersion,
  getModule,
  getModuleVersion,
  listModules,
  listModuleVersions,
  type ModuleRecord,
  type ModuleVersionRecord,
} from "./catalog.ts";

function toProtoModule(m: ModuleRecord) {
  return {
    id: m.id,
    name: m.name,
    description: m.description,
    priority: m.priority,
    createdAt: timestampFromDate(m.createdAt),
  };
}

function toProtoVersion(v: ModuleVersionRecord) {
  return {
    id: v.id,
    moduleName: v.moduleName,
    version: v.version,
    arch: toProtoArch(v.arch),
    fsverityDigest: v.fsverityDigest,
    verityRootHash: v.verityRootHash,
    ociDigest: v.ociDigest,
    metadataSize: BigInt(v.metadataSize),
    blobSize: BigInt(v.blobSize),
    createdAt: timestampFromDate(v.createdAt),
    origin: v.origin,
  };
}

/** Creates the CatalogService implementation. */
export function createCatalogService(deps: Deps): ServiceImpl<typeof CatalogService> {
  return {
    async createModule(req) {
      const m = await createModule(deps.db, deps.events, {
        name: req.name,
        description: req.description,
        priority: req.priority,
      });
      return { module: toProtoModule(m) };
    },
    async listModules() {
      return { modules: (await listModules(deps.db)).map(toProtoModule) };
    },
    async getModule(req) {
      const m = await getModule(deps.db, req.name);
      const versions = await listModuleVersions(deps.db, req.name);
      return { module: toProtoModule(m), versions: versions.map(toProtoVersion) };
    },
    async createModuleVersion(req) {
      const arch = fromProtoArch(req.arch);
      if (!arch) throw new DomainError("invalid_argument", "arch: required (ARCH_AMD64 or ARCH_ARM64)");
      const v = await createModuleVersion(
        deps.db,
        deps.events,
        {
          moduleName: req.moduleName,
          version: req.version,
          arch,
          fsverityDigest: req.fsverityDigest,
          verityRootHash: req.verityRootHash,
          ociDigest: req.ociDigest,
          metadataSize: Number(req.metadataSize),
          blobSize: Number(req.blobSize),
          origin: req.origin,
          packages: req.packages.map((p) => ({ name: p.name, version: p.version })),
        },
        deps.moduleSigner,
      );
      return { version: toProtoVersion(v) };
    },
    async listModuleVersions(req) {
      return { versions: (await listModuleVersions(deps.db, req.moduleName)).map(toProtoVersion) };
    },
    async getModuleVersion(req) {
      return { version: toProtoVersion(await getModuleVersion(deps.db, req.id.toLowerCase())) };
    },
  };
}
