/**
 * Pull locations of one module artifact, in the order a node tries them: the mirrors of its origin
 * (by priority, then host), the origin registry, then the hub's own copy when the hub holds one. A
 * pure function of the catalog row, the registries and whether the hub has the manifest.
 */
import type { PullLocation } from "@powernode/proto";
import { HUB_ORIGIN, type RegistryRow } from "./registries.ts";

export type LocationInit = Pick<PullLocation, "ociReference" | "role" | "credentialHost" | "caPem">;

export interface LocationInput {
  /** The catalog version's origin: a registry host, or "" for the hub. */
  origin: string;
  repository: string;
  /** "sha256:<hex>". */
  digest: string;
  /** The hub's registry as nodes reach it (`https://10.0.2.2:8443`). */
  hubUrl: string;
  /** The hub's registry holds this manifest in `repository`. */
  hubHolds: boolean;
  registries: readonly RegistryRow[];
}

/** Thrown when the catalog names an origin the hub does not know (a registry deleted under it). */
export class UnknownOriginError extends Error {
  override name = "UnknownOriginError";
}

const nodeUrlOf = (r: RegistryRow) => r.nodeUrl ?? r.url;

export function pullLocations(i: LocationInput): LocationInit[] {
  const at = (base: string) => `${base.replace(/\/+$/, "")}/${i.repository}@${i.digest}`;
  const originKey = i.origin === "" ? HUB_ORIGIN : i.origin;
  const mirrors = i.registries
    .filter((r) => r.mirrorOf === originKey)
    .sort((a, b) => a.priority - b.priority || (a.host < b.host ? -1 : 1))
    .map(
      (r): LocationInit => ({
        ociReference: at(nodeUrlOf(r)),
        role: "mirror",
        credentialHost: r.host,
        caPem: r.caPem ?? "",
      }),
    );
  const out = [...mirrors];
  if (i.origin !== "") {
    const origin = i.registries.find((r) => r.host === i.origin);
    if (!origin)
      throw new UnknownOriginError(`registry ${i.origin} (the artifact's origin) is not known to the hub`);
    out.push({
      ociReference: at(nodeUrlOf(origin)),
      role: "origin",
      credentialHost: origin.host,
      caPem: origin.caPem ?? "",
    });
  }
  if (i.origin === "" || i.hubHolds)
    out.push({ ociReference: at(i.hubUrl), role: "hub", credentialHost: "", caPem: "" });
  return out;
}
