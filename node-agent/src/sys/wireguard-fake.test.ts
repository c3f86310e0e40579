// The fake keeps wg's semantics as the guest check saw them on a real kernel (where the same steps
// run against both and are compared): upsert, endpoint kept, unknown peer removal succeeds.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateWgKeyPair, loadOrCreateWgKey } from "./wireguard.ts";
import { createRecordingWireguardFake } from "./wireguard-fake.ts";

const dir = mkdtempSync(join(tmpdir(), "pn-wg-fake-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("recording wireguard fake: interfaces, peers, the key file's public key, calls and injected failures", async () => {
  const wg = createRecordingWireguardFake();
  const key = loadOrCreateWgKey(dir, "a");
  const b = generateWgKeyPair().publicKey;
  const c = generateWgKeyPair().publicKey;
  const spec = { address: "fd00:aaaa::1", prefixLen: 64, mtu: 1420 };
  await expect(
    wg.setConfig("wg0", { privateKeyFile: key.privateKeyFile, listenPort: 1, peers: [] }),
  ).rejects.toThrow("No such device");
  expect(await wg.ensureInterface("wg0", spec)).toEqual({
    created: true,
    changes: ["created", "mtu 1420 up", "address fd00:aaaa::1/64"],
  });
  expect(await wg.ensureInterface("wg0", spec)).toEqual({ created: false, changes: [] });
  await wg.setConfig("wg0", {
    privateKeyFile: key.privateKeyFile,
    listenPort: 51820,
    peers: [
      { publicKey: b, allowedIps: ["fd00:bbbb::5/64"], endpoint: "[::1]:51821", persistentKeepalive: 25 },
      { publicKey: c, allowedIps: [] },
    ],
  });
  wg.setPeerStats("wg0", b, { latestHandshakeUnix: 1796407028, rxBytes: 180, txBytes: 272 });
  await wg.setConfig("wg0", {
    privateKeyFile: key.privateKeyFile,
    listenPort: 51820,
    peers: [{ publicKey: b, allowedIps: ["fd00:aaaa::2/128"] }],
  });
  await wg.removePeer("wg0", c);
  await wg.removePeer("wg0", generateWgKeyPair().publicKey);
  expect(await wg.show("wg0")).toEqual({
    publicKey: key.publicKey,
    listenPort: 51820,
    peers: [
      {
        publicKey: b,
        endpoint: "[::1]:51821",
        allowedIps: ["fd00:aaaa::2/128"],
        latestHandshakeUnix: 1796407028,
        rxBytes: 180,
        txBytes: 272,
        persistentKeepalive: 0,
      },
    ],
  });
  expect(wg.interfaces.get("wg0")).toMatchObject({
    address: "fd00:aaaa::1",
    prefixLen: 64,
    mtu: 1420,
    up: true,
  });
  expect(wg.listInterfaces("wg")).toEqual(["wg0"]);

  // the real builders check the arguments
  await expect(wg.ensureInterface("wg-sdwan-toolong1", spec)).rejects.toThrow("interface name");
  await expect(wg.removePeer("wg0", "nope")).rejects.toThrow("peer public key");

  wg.failNext("show", new Error("wg show failed"));
  await expect(wg.show("wg0")).rejects.toThrow("wg show failed");
  expect(await wg.show("wg0")).toBeDefined();
  expect(await wg.deleteInterface("wg0")).toBe(true);
  expect(await wg.deleteInterface("wg0")).toBe(false);
  expect(await wg.show("wg0")).toBeUndefined();
  expect(wg.calls.map((x) => x.method)).toEqual([
    "setConfig",
    "ensureInterface",
    "ensureInterface",
    "setConfig",
    "setConfig",
    "removePeer",
    "removePeer",
    "show",
    "ensureInterface",
    "removePeer",
    "show",
    "show",
    "deleteInterface",
    "deleteInterface",
    "show",
  ]);
  expect(wg.calls[1]).toEqual({ method: "ensureInterface", args: ["wg0", spec] });
});
