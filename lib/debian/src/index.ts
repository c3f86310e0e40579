/** @powernode/debian: the apt index of the machine's sources, Debian version order, verified downloads. */
export {
  type AptIndex,
  BOOKWORM_SUITES,
  type DebArch,
  type DebDependency,
  type DebPackage,
  indexPackages,
  type LoadAptIndexOptions,
  loadAptIndex,
  parseDependencyField,
  parsePackagesText,
} from "./apt-index.ts";
export {
  debFileName,
  extractDeb,
  type FetchDebsOptions,
  fetchDebs,
  unpackDeb,
  verifyDeb,
} from "./fetch.ts";
export { compareDebVersions, DEB_PACKAGE_NAME, type DebRelation, satisfiesRelation } from "./version.ts";
