/**
 * A module version's SBOM: an SPDX 2.3 JSON document listing the Debian packages its build shipped
 * (name, exact version, a `pkg:deb` purl), pushed beside the module artifact as an OCI 1.1 referrer
 * (its `subject` is the module manifest), so `GET /v2/modules/<name>/referrers/<digest>` finds it.
 */
import type { ModuleManifest } from "@powernode/oci";
import { sourcePackages } from "./source-packages.ts";

export const SBOM_ARTIFACT_TYPE = "application/spdx+json";

/** Letters, digits, `.` and `-` only: what an SPDX identifier may hold. */
const spdxId = (s: string) => s.replace(/[^A-Za-z0-9.-]/g, "-");

/** The SPDX document of `m` (pushed as manifest `ociDigest`), created at `created` (RFC 3339). */
export function spdxDocument(m: ModuleManifest, ociDigest: string, created: Date): Record<string, unknown> {
  const packages = sourcePackages(m.source);
  const moduleId = `SPDXRef-Module-${spdxId(m.name)}`;
  return {
    spdxVersion: "SPDX-2.3",
    dataLicense: "CC0-1.0",
    SPDXID: "SPDXRef-DOCUMENT",
    name: `${m.name}-${m.version}-${m.arch}`,
    documentNamespace: `https://powernode.invalid/spdx/${m.name}/${encodeURIComponent(m.version)}/${m.arch}/${ociDigest.replace("sha256:", "")}`,
    creationInfo: {
      created: `${created.toISOString().slice(0, 19)}Z`,
      creators: ["Tool: powernode-publish"],
    },
    packages: [
      {
        SPDXID: moduleId,
        name: m.name,
        versionInfo: m.version,
        downloadLocation: "NOASSERTION",
        filesAnalyzed: false,
        checksums: [{ algorithm: "SHA256", checksumValue: ociDigest.replace("sha256:", "") }],
      },
      ...packages.map((p, i) => ({
        SPDXID: `SPDXRef-Package-${i}-${spdxId(p.name)}`,
        name: p.name,
        versionInfo: p.version,
        downloadLocation: "NOASSERTION",
        filesAnalyzed: false,
        supplier: "Organization: Debian",
        externalRefs: [
          {
            referenceCategory: "PACKAGE-MANAGER",
            referenceType: "purl",
            referenceLocator: `pkg:deb/debian/${p.name}@${encodeURIComponent(p.version)}?arch=${m.arch}`,
          },
        ],
      })),
    ],
    relationships: [
      { spdxElementId: "SPDXRef-DOCUMENT", relationshipType: "DESCRIBES", relatedSpdxElement: moduleId },
      ...packages.map((p, i) => ({
        spdxElementId: moduleId,
        relationshipType: "CONTAINS",
        relatedSpdxElement: `SPDXRef-Package-${i}-${spdxId(p.name)}`,
      })),
    ],
  };
}
