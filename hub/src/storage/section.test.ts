import { describe, expect, test } from "bun:test";
import { compileStorageSection, renderExports, type StorageView } from "./section.ts";

const SERVER = "11111111-1111-4111-8111-111111111111";
const CLIENT = "22222222-2222-4222-8222-222222222222";
const OTHER = "33333333-3333-4333-8333-333333333333";
const GATEWAY = "44444444-4444-4444-8444-444444444444";

const selfHosted: StorageView = {
  id: "s1",
  name: "data",
  shape: "self_hosted",
  encryption: "fscrypt",
  exportHostId: SERVER,
  exportPath: "/srv/exports/data",
  upstreamHost: null,
  upstreamPath: null,
  upstreamOptions: null,
  vip: "fd12:3456:789a:1:dead:beef:0:1234",
  interfaceName: "wg-sdwan-abc123",
  clients: [
    {
      nodeId: CLIENT,
      address: "fd12:3456:789a:1::c1",
      mountPath: "/mnt/data",
      options: "",
      encryption: "inherit",
    },
  ],
};
const gateway: StorageView = {
  ...selfHosted,
  id: "s2",
  name: "archive",
  shape: "gateway_proxy",
  encryption: "none",
  exportHostId: GATEWAY,
  exportPath: "/var/lib/powernode/storage/archive",
  upstreamHost: "10.20.30.40",
  upstreamPath: "/srv/data",
  upstreamOptions: null,
  vip: "fd12:3456:789a:1:dead:beef:0:99",
  clients: [
    {
      nodeId: CLIENT,
      address: "fd12:3456:789a:1::c1",
      mountPath: "/mnt/archive",
      options: "ro",
      encryption: "inherit",
    },
  ],
};

describe("compileStorageSection", () => {
  test("the server exports to the assigned client's overlay address only (golden)", () => {
    const s = compileStorageSection(SERVER, [selfHosted, gateway]);
    expect(s).toEqual({
      exports: [
        {
          storageId: "s1",
          name: "data",
          exportPath: "/srv/exports/data",
          deploymentShape: "self_hosted",
          clients: [
            {
              nodeId: CLIENT,
              address: "fd12:3456:789a:1::c1",
              options: "rw,sync,no_subtree_check,root_squash",
            },
          ],
          vip: "fd12:3456:789a:1:dead:beef:0:1234",
          interfaceName: "wg-sdwan-abc123",
          encryption: "fscrypt",
          allowedSources: ["fd12:3456:789a:1::c1"],
        },
      ],
      upstreams: [],
      mounts: [],
    });
    expect(renderExports(s)).toBe(
      "/srv/exports/data fd12:3456:789a:1::c1(rw,sync,no_subtree_check,root_squash)\n",
    );
  });

  test("the gateway mounts the upstream and re-exports it; the client mounts the gateway's VIP only", () => {
    const g = compileStorageSection(GATEWAY, [gateway]);
    expect(g.upstreams).toEqual([
      {
        storageId: "s2",
        name: "archive",
        upstream: "10.20.30.40:/srv/data",
        options: "vers=4.2,proto=tcp,hard",
        reExportPath: "/var/lib/powernode/storage/archive",
        gatewayUnitName: "nfs-gateway-archive",
      },
    ]);
    expect(g.exports?.[0]).toMatchObject({
      deploymentShape: "gateway_proxy",
      exportPath: "/var/lib/powernode/storage/archive",
    });
    const c = compileStorageSection(CLIENT, [selfHosted, gateway]);
    expect(c.mounts).toEqual([
      {
        storageId: "s2",
        name: "archive",
        source: "[fd12:3456:789a:1:dead:beef:0:99]:/var/lib/powernode/storage/archive",
        mountPath: "/mnt/archive",
        options: "vers=4.2,proto=tcp,hard,ro",
        encryption: "none",
      },
      {
        storageId: "s1",
        name: "data",
        source: "[fd12:3456:789a:1:dead:beef:0:1234]:/srv/exports/data",
        mountPath: "/mnt/data",
        options: "vers=4.2,proto=tcp,hard",
        encryption: "fscrypt",
      },
    ]);
    expect(JSON.stringify(c)).not.toContain("10.20.30.40");
  });

  test("a node neither exporting nor assigned gets an empty section; an export with no client no line", () => {
    expect(compileStorageSection(OTHER, [selfHosted, gateway])).toEqual({
      exports: [],
      upstreams: [],
      mounts: [],
    });
    const alone = compileStorageSection(SERVER, [{ ...selfHosted, clients: [] }]);
    expect(alone.exports?.[0]?.clients).toEqual([]);
    expect(renderExports(alone)).toBe("");
  });
});
