import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { NetworkService, StorageNodeService, StorageService, StorageShape } from "@powernode/proto";
import { eq } from "drizzle-orm";
import { enrollTestNode, nodeTransport, operatorClient, startTestHub } from "../../test/harness.ts";
import { storages } from "../db/schema/index.ts";
import type { RunningHub } from "../hub.ts";

let hub: RunningHub;
let host = "";
let hostCreds: { certPem: string; keyPem: string } = { certPem: "", keyPem: "" };
let stranger = "";
beforeAll(async () => {
  hub = await startTestHub();
  const net = operatorClient(hub, NetworkService);
  await net.createNetwork({ name: "st-net" });
  const h = await enrollTestNode(hub, "st-host");
  host = h.id;
  hostCreds = h;
  stranger = (await enrollTestNode(hub, "st-stranger")).id;
  await net.joinNetwork({ network: "st-net", nodeId: host });
}, 30_000);
afterAll(async () => {
  await hub.stop();
});

const refusal = async (p: Promise<unknown>) => {
  const e = ConnectError.from(
    await p.then(
      () => new Error("accepted"),
      (x: unknown) => x,
    ),
  );
  return [e.code, e.rawMessage] as const;
};

describe("StorageService edge checks", () => {
  const base = () => ({
    name: "ok-name",
    shape: StorageShape.SELF_HOSTED,
    network: "st-net",
    exportHostId: host,
    exportPath: "/srv/x",
  });
  test("bad input is named by field, before anything is written", async () => {
    const s = operatorClient(hub, StorageService);
    const cases: [Parameters<typeof s.createStorage>[0], Code, string][] = [
      [{ ...base(), name: "Bad Name" }, Code.InvalidArgument, 'name: "Bad Name" is not a storage name'],
      [{ ...base(), shape: StorageShape.UNSPECIFIED }, Code.InvalidArgument, "shape: required"],
      [
        { ...base(), exportPath: "relative/x" },
        Code.InvalidArgument,
        'export_path: "relative/x" is not an absolute path',
      ],
      [
        { ...base(), exportPath: "/srv/../etc" },
        Code.InvalidArgument,
        'export_path: "/srv/../etc" is not an absolute path',
      ],
      [
        { ...base(), exportPath: "/srv/a b" },
        Code.InvalidArgument,
        'export_path: "/srv/a b" is not an absolute path',
      ],
      [
        { ...base(), encryption: "aes" },
        Code.InvalidArgument,
        'encryption: "aes" is not one of none, fscrypt',
      ],
      [{ ...base(), exportHostId: "x" }, Code.InvalidArgument, "export_host_id: not a UUID"],
      [
        { ...base(), exportHostId: stranger },
        Code.FailedPrecondition,
        `export_host_id: node ${stranger} is not a member of network st-net`,
      ],
      [{ ...base(), network: "nope" }, Code.NotFound, 'network: no network "nope"'],
      [
        { ...base(), shape: StorageShape.GATEWAY_PROXY, upstreamHost: "bad host!" },
        Code.InvalidArgument,
        'upstream_host: "bad host!" is not a host name',
      ],
      [
        { ...base(), upstreamHost: "10.0.0.1", upstreamPath: "/x" },
        Code.InvalidArgument,
        "upstream_host: only a gateway_proxy storage has an upstream",
      ],
      [
        {
          ...base(),
          shape: StorageShape.GATEWAY_PROXY,
          upstreamHost: "10.0.0.1",
          upstreamPath: "/x",
          upstreamOptions: "vers=4.2;rm",
        },
        Code.InvalidArgument,
        'upstream_options: "vers=4.2;rm" is not a comma-separated option list',
      ],
    ];
    for (const [req, code, msg] of cases) {
      const [c, m] = await refusal(s.createStorage(req));
      expect([c, m.slice(0, msg.length)]).toEqual([code, msg]);
    }
    expect((await s.listStorages({})).storages).toEqual([]);
  });

  test("assign: the client must be a member; names already taken are refused", async () => {
    const s = operatorClient(hub, StorageService);
    await s.createStorage(base());
    expect(await refusal(s.createStorage(base()))).toEqual([
      Code.AlreadyExists,
      'name: storage "ok-name" exists',
    ]);
    const [c, m] = await refusal(
      s.assignStorage({ storage: "ok-name", clientId: stranger, mountPath: "/mnt/x" }),
    );
    expect([c, m]).toEqual([
      Code.FailedPrecondition,
      `client_id: node ${stranger} is not a member of network st-net`,
    ]);
    expect(
      await refusal(s.assignStorage({ storage: "nope", clientId: stranger, mountPath: "/mnt/x" })),
    ).toEqual([Code.NotFound, 'storage: no storage "nope"']);
    expect(await refusal(s.unassignStorage({ storage: "ok-name", clientId: stranger }))).toEqual([
      Code.NotFound,
      `client_id: ok-name is not assigned to ${stranger}`,
    ]);
  });

  test("an fscrypt storage's key: 64 bytes for its export host only, sealed at rest; none for a plain one", async () => {
    const s = operatorClient(hub, StorageService);
    const enc = (await s.createStorage({ ...base(), name: "enc", encryption: "fscrypt" })).storage;
    const plain = (await s.createStorage({ ...base(), name: "plain", exportPath: "/srv/p" })).storage;
    const hostNode = { ...hostCreds, id: host };
    const keyOf = (node: { id: string; certPem: string; keyPem: string }, storageId: string) =>
      createClient(StorageNodeService, nodeTransport(hub, node)).getExportKey({ storageId });
    const got = await keyOf(hostNode, enc?.id ?? "");
    expect(got.key.length).toBe(64);
    expect((await keyOf(hostNode, enc?.id ?? "")).key).toEqual(got.key);
    const other = await enrollTestNode(hub, "st-other");
    expect(await refusal(keyOf(other, enc?.id ?? ""))).toEqual([
      Code.PermissionDenied,
      "storage_id: this node does not export enc",
    ]);
    expect(await refusal(keyOf(hostNode, plain?.id ?? ""))).toEqual([
      Code.FailedPrecondition,
      "storage_id: plain is not encrypted (encryption none)",
    ]);
    expect((await refusal(keyOf(hostNode, "nope")))[0]).toBe(Code.InvalidArgument);
    const [row] = await hub.deps.db
      .select()
      .from(storages)
      .where(eq(storages.id, enc?.id ?? ""));
    expect(row?.encryptionKey).toBeTruthy();
    expect(row?.encryptionKey).not.toContain(Buffer.from(got.key).toString("base64"));
    await s.deleteStorage({ storage: "enc" });
    await s.deleteStorage({ storage: "plain" });
  });
});
