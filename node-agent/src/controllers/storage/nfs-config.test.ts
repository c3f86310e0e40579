import { expect, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import { type NfsExport, StorageSectionSchema } from "@powernode/proto";
import {
  exportFsid,
  exportLine,
  exportsFile,
  nfsMountSpec,
  parseNfsSource,
  rpcMountdArgv,
  rpcNfsdArgv,
} from "./nfs-config.ts";

const id = "0b7e6c2a-1f3d-4c5e-9a8b-7c6d5e4f3a2b";
const exp = (over: object = {}): NfsExport =>
  create(StorageSectionSchema, {
    exports: [
      {
        storageId: id,
        name: "data",
        exportPath: "/srv/exports/data",
        deploymentShape: "self_hosted",
        clients: [
          { nodeId: "n1", address: "fd12:3456:789a:1::b", options: "rw,sync,no_subtree_check,root_squash" },
          { nodeId: "n2", address: "fd12:3456:789a:1::c", options: "" },
        ],
        ...over,
      },
    ],
  }).exports[0] as NfsExport;

test("/etc/exports: the v4 root for every client, one line per export with clients: overlay addresses, options, fsid (golden)", () => {
  expect(exportsFile([exp(), exp({ name: "empty", exportPath: "/srv/empty", clients: [] })])).toBe(
    [
      "# written by the powernode agent from the hub's storage section; edits are replaced",
      "/run/powernode/nfs4 fd12:3456:789a:1::b(ro,fsid=0,no_subtree_check,root_squash) fd12:3456:789a:1::c(ro,fsid=0,no_subtree_check,root_squash)",
      `/run/powernode/nfs4/srv/exports/data fd12:3456:789a:1::b(rw,sync,no_subtree_check,root_squash,fsid=${id}) fd12:3456:789a:1::c(rw,sync,no_subtree_check,root_squash,fsid=${id})`,
      "",
    ].join("\n"),
  );
  expect(exportsFile([])).toBe(
    "# written by the powernode agent from the hub's storage section; edits are replaced\n",
  );
});

test("export lines refuse what would change the file's meaning, naming the export", () => {
  expect(() => exportLine(exp({ exportPath: "/srv/a b" }))).toThrow("exports[data].export_path:");
  expect(() => exportLine(exp({ exportPath: "/" }))).toThrow("exports[data].export_path:");
  expect(() => exportLine(exp({ storageId: "x y" }))).toThrow("exports[data].storage_id: not a uuid");
  expect(() => exportLine(exp({ clients: [{ nodeId: "n", address: "*", options: "" }] }))).toThrow(
    'exports[data]: client "*" is not an address',
  );
  expect(() =>
    exportLine(exp({ clients: [{ nodeId: "n", address: "fd00::1", options: "rw) * (rw" }] })),
  ).toThrow("exports[data] options:");
});

test("the server runs v4.1 and v4.2 only, short lease and grace; mountd without the MOUNT protocol", () => {
  expect(rpcNfsdArgv()).toEqual([
    "/usr/sbin/rpc.nfsd", "--no-nfs-version", "3", "--no-nfs-version", "4.0", "--no-udp", "--port", "2049",
    "--lease-time", "15", "--grace-time", "15", "8",
  ]); // biome-ignore format: flag/value pairs
  expect(rpcMountdArgv()).toEqual([
    "/usr/sbin/rpc.mountd",
    "--foreground",
    "--no-nfs-version",
    "2",
    "--no-nfs-version",
    "3",
    "--no-udp",
  ]);
});

test("a share's kernel mount: nfs4, the source, the given options plus addr= (the kernel resolves no names), tcp6 for IPv6", () => {
  expect(
    nfsMountSpec("m", {
      source: "[fd12:3456:789a:1:dead:beef:0:1a2b]:/srv/x",
      options: "vers=4.2,proto=tcp,hard",
    }),
  ).toEqual({
    fstype: "nfs4",
    source: "[fd12:3456:789a:1:dead:beef:0:1a2b]:/srv/x",
    options: "vers=4.2,proto=tcp6,hard,addr=fd12:3456:789a:1:dead:beef:0:1a2b",
  });
  expect(nfsMountSpec("m", { source: "10.20.30.40:/srv/data/", options: "addr=1.2.3.4,ro" })).toEqual({
    fstype: "nfs4",
    source: "10.20.30.40:/srv/data",
    options: "ro,addr=10.20.30.40",
  });
  expect(nfsMountSpec("m", { source: "10.0.0.1:/a", options: "" }).options).toBe(
    "vers=4.2,proto=tcp,hard,addr=10.0.0.1",
  );
  expect(() => parseNfsSource("m.source", "nfs.example.com:/x")).toThrow(
    'm.source: "nfs.example.com:/x" is not',
  );
  expect(() => parseNfsSource("m.source", "[fd00::1]:/../etc")).toThrow("m.source:");
  expect(() => nfsMountSpec("m", { source: "10.0.0.1:/a", options: "rw;reboot" })).toThrow("m.options:");
});

test("exportFsid: the uuid's two big-endian halves as the client's procfs prints them", () => {
  expect(exportFsid(id)).toBe("b7e6c2a1f3d4c5e:9a8b7c6d5e4f3a2b");
  expect(exportFsid("5e1f0000-0000-4000-8000-00000000000a")).toBe("5e1f000000004000:800000000000000a");
  expect(() => exportFsid("nope")).toThrow("storage_id");
});
