import { describe, expect, test } from "bun:test";
import { pullLocations, UnknownOriginError } from "./locations.ts";
import type { RegistryRow } from "./registries.ts";

const DIGEST = `sha256:${"ab".repeat(32)}`;
const at = new Date(0);
const reg = (host: string, over: Partial<RegistryRow> = {}): RegistryRow => ({
  host,
  url: `http://${host}`,
  nodeUrl: null,
  mirrorOf: null,
  priority: 0,
  username: null,
  secret: null,
  caPem: null,
  createdAt: at,
  updatedAt: at,
  ...over,
});
const base = { repository: "modules/web", digest: DIGEST, hubUrl: "https://10.0.2.2:8443/" };

describe("pullLocations", () => {
  test("a hub artifact: the hub only, or its mirrors first", () => {
    expect(pullLocations({ ...base, origin: "", hubHolds: true, registries: [] })).toEqual([
      {
        ociReference: `https://10.0.2.2:8443/modules/web@${DIGEST}`,
        role: "hub",
        credentialHost: "",
        caPem: "",
      },
    ]);
    const site = reg("mirror.site:5000", { mirrorOf: "hub", nodeUrl: "http://10.9.0.1:5000" });
    expect(
      pullLocations({ ...base, origin: "", hubHolds: true, registries: [site] }).map((l) => l.ociReference),
    ).toEqual([`http://10.9.0.1:5000/modules/web@${DIGEST}`, `https://10.0.2.2:8443/modules/web@${DIGEST}`]);
  });

  test("an external origin: mirrors by priority then host, the origin at its node URL, the hub copy last", () => {
    const registries = [
      reg("origin.example:5000", { nodeUrl: "http://10.0.2.2:5000", username: "puller", secret: "sealed" }),
      reg("b.mirror", { mirrorOf: "origin.example:5000", priority: 1 }),
      reg("a.mirror", { mirrorOf: "origin.example:5000", priority: 1, caPem: "PEM" }),
      reg("first.mirror", { mirrorOf: "origin.example:5000", priority: 0 }),
      reg("other.mirror", { mirrorOf: "elsewhere" }),
    ];
    expect(pullLocations({ ...base, origin: "origin.example:5000", hubHolds: true, registries })).toEqual([
      {
        ociReference: `http://first.mirror/modules/web@${DIGEST}`,
        role: "mirror",
        credentialHost: "first.mirror",
        caPem: "",
      },
      {
        ociReference: `http://a.mirror/modules/web@${DIGEST}`,
        role: "mirror",
        credentialHost: "a.mirror",
        caPem: "PEM",
      },
      {
        ociReference: `http://b.mirror/modules/web@${DIGEST}`,
        role: "mirror",
        credentialHost: "b.mirror",
        caPem: "",
      },
      {
        ociReference: `http://10.0.2.2:5000/modules/web@${DIGEST}`,
        role: "origin",
        credentialHost: "origin.example:5000",
        caPem: "",
      },
      {
        ociReference: `https://10.0.2.2:8443/modules/web@${DIGEST}`,
        role: "hub",
        credentialHost: "",
        caPem: "",
      },
    ]);
    expect(
      pullLocations({ ...base, origin: "origin.example:5000", hubHolds: false, registries }).map(
        (l) => l.role,
      ),
    ).toEqual(["mirror", "mirror", "mirror", "origin"]);
  });

  test("an origin the hub does not know is an error naming it", () => {
    expect(() => pullLocations({ ...base, origin: "gone.example", hubHolds: true, registries: [] })).toThrow(
      new UnknownOriginError("registry gone.example (the artifact's origin) is not known to the hub"),
    );
  });
});
