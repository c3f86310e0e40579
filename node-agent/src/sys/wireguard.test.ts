// The host has no wireguard kernel module: builders and parsers are checked here against outputs
// captured from a node guest (`bun scripts/wireguard-guest-check.ts`, 6.12 cloud kernel, busybox 1.35,
// wireguard-tools 1.0.20210914), and the factory against a recording exec fake over a temp sysfs.
import { afterEach, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRecordingExecFake } from "./exec-fake.ts";
import { createFileExclusive } from "./files.ts";
import {
  addrAddArgs,
  addrDelArgs,
  addrShowArgs,
  createWireguard,
  generateWgKeyPair,
  linkAddArgs,
  linkDelArgs,
  linkUpArgs,
  loadOrCreateWgKey,
  parseIp6Addrs,
  parseWgDump,
  parseWgKey,
  WG_BIN,
  wgDumpArgs,
  wgPublicKeyOf,
  wgRemovePeerArgs,
  wgSetArgs,
} from "./wireguard.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function temp(): string {
  const d = mkdtempSync(join(tmpdir(), "pn-wg-"));
  dirs.push(d);
  return d;
}
const b64 = (hex: string) => Buffer.from(hex, "hex").toString("base64");
const mode = (p: string) => statSync(p).mode & 0o777;

const KEY_A = "gK8WQ36P9o/vqmQ/K3Ws7irvz5wtkV8q5LowvxpxgSw=";
const KEY_B = "fdDcuNrTo7nbgQxhK+9n0jp096uXSI8P9aN+fMBNvlI=";
const KEY_C = "x4/bnLb8HztjS+mtpoOwd2f+tibWvWR7KveGmqsI9W4=";

test("keys: RFC 7748's X25519 vector and one from `wg genkey | wg pubkey`", () => {
  // RFC 7748 section 6.1, Alice
  expect(wgPublicKeyOf(b64("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"))).toBe(
    b64("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"),
  );
  // wireguard-tools 1.0.20210914 on this machine
  expect(wgPublicKeyOf("SKo08BfaAyJVIxcSS9hPOynoqS/aVbDjSGMP6MvnvUo=")).toBe(
    "i52wQkgaShWAzV/IP+I/74gVPVxBD72NQ2Qu/MBfpFA=",
  );
});

test("keys: generated pairs are 32 bytes each, clamped like wg genkey, public matches wgPublicKeyOf", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 20; i++) {
    const k = generateWgKeyPair();
    const priv = parseWgKey(k.privateKey);
    expect(priv.length).toBe(32);
    expect(parseWgKey(k.publicKey).length).toBe(32);
    expect([(priv[0] as number) & 7, (priv[31] as number) & 0xc0]).toEqual([0, 0x40]);
    expect(wgPublicKeyOf(k.privateKey)).toBe(k.publicKey);
    seen.add(k.privateKey);
  }
  expect(seen.size).toBe(20);
  expect(() => parseWgKey("c2hvcnQ=")).toThrow("wireguard key: expected base64 of 32 bytes");
  expect(() => parseWgKey(`${KEY_A.slice(0, -2)}x=`)).toThrow("expected base64 of 32 bytes"); // not canonical
  expect(() => wgPublicKeyOf("remove")).toThrow("wireguard private key: expected base64 of 32 bytes");
});

test("loadOrCreateWgKey: made once (0600 in a 0700 dir), then read back; looser modes tightened", () => {
  const dir = join(temp(), "state", "wireguard");
  const a = loadOrCreateWgKey(dir, "a1b2c3");
  expect(a.privateKeyFile).toBe(join(dir, "a1b2c3.key"));
  expect(mode(dir)).toBe(0o700);
  expect(mode(a.privateKeyFile)).toBe(0o600);
  const text = readFileSync(a.privateKeyFile, "utf8");
  expect(text).toMatch(/^[A-Za-z0-9+/]{43}=\n$/);
  expect(wgPublicKeyOf(text.trim())).toBe(a.publicKey);
  expect(loadOrCreateWgKey(dir, "a1b2c3")).toEqual(a);
  expect(loadOrCreateWgKey(dir, "other").publicKey).not.toBe(a.publicKey);

  chmodSync(a.privateKeyFile, 0o644);
  chmodSync(dir, 0o755);
  expect(loadOrCreateWgKey(dir, "a1b2c3")).toEqual(a);
  expect([mode(dir), mode(a.privateKeyFile)]).toEqual([0o700, 0o600]);

  // an existing file is never replaced, even by a racing creator
  expect(createFileExclusive(a.privateKeyFile, "something else\n")).toBe(false);
  expect(readFileSync(a.privateKeyFile, "utf8")).toBe(text);

  writeFileSync(join(dir, "bad.key"), "not a key\n", { mode: 0o600 });
  expect(() => loadOrCreateWgKey(dir, "bad")).toThrow(`reading the wireguard key ${join(dir, "bad.key")}`);
  for (const name of ["../x", ".hidden", "", "a/b"])
    expect(() => loadOrCreateWgKey(dir, name)).toThrow("key name");
});

test("ip argv: link add/del/up, the /128 with the network's length, addr del/show", () => {
  expect(linkAddArgs("wg-sdwan-a1b2c3")).toEqual(["link", "add", "wg-sdwan-a1b2c3", "type", "wireguard"]);
  expect(linkDelArgs("wg0")).toEqual(["link", "del", "wg0"]);
  expect(linkUpArgs("wg0", 1420)).toEqual(["link", "set", "dev", "wg0", "mtu", "1420", "up"]);
  expect(addrAddArgs("wg0", "FD12:3456:789a:1:0:0:0:a", 64)).toEqual([
    "-6",
    "addr",
    "add",
    "fd12:3456:789a:1::a/64",
    "dev",
    "wg0",
  ]);
  expect(addrDelArgs("wg0", "fd00:aaaa::11/64")).toEqual([
    "-6",
    "addr",
    "del",
    "fd00:aaaa::11/64",
    "dev",
    "wg0",
  ]);
  expect(addrShowArgs("wg0")).toEqual(["-6", "-o", "addr", "show", "dev", "wg0"]);
  expect(() => linkAddArgs("wg-sdwan-a1b2c3d")).toThrow('interface name "wg-sdwan-a1b2c3d"'); // 16 bytes
  expect(() => linkAddArgs("-wg")).toThrow("interface name");
  expect(() => linkUpArgs("wg0", 1200)).toThrow("mtu 1200: expected 1280..65535");
  expect(() => addrAddArgs("wg0", "10.0.0.1", 24)).toThrow("10.0.0.1/24: expected an IPv6 address");
});

test("wg argv: set with the key file, port and peers (keepalive explicit, allowed IPs canonical), remove, dump", () => {
  expect(
    wgSetArgs({
      iface: "wg0",
      privateKeyFile: "/persist/powernode/wireguard/a1b2c3.key",
      listenPort: 51820,
      peers: [
        {
          publicKey: KEY_B,
          allowedIps: ["fd00:aaaa::2/128", "fd00:bbbb::5/64", "10.99.0.7/24"],
          endpoint: "[::1]:51821",
          persistentKeepalive: 25,
        },
        { publicKey: KEY_C, allowedIps: [], endpoint: "10.203.1.11:51820" },
        { publicKey: KEY_A, allowedIps: ["fd00:aaaa::1/128"], persistentKeepalive: 0 },
      ],
    }),
  ).toEqual([
    "set",
    "wg0",
    "listen-port",
    "51820",
    "private-key",
    "/persist/powernode/wireguard/a1b2c3.key",
    "peer",
    KEY_B,
    "endpoint",
    "[::1]:51821",
    "persistent-keepalive",
    "25",
    "allowed-ips",
    "fd00:aaaa::2/128,fd00:bbbb::/64,10.99.0.0/24",
    "peer",
    KEY_C,
    "endpoint",
    "10.203.1.11:51820",
    "persistent-keepalive",
    "off",
    "allowed-ips",
    "",
    "peer",
    KEY_A,
    "persistent-keepalive",
    "off",
    "allowed-ips",
    "fd00:aaaa::1/128",
  ]);
  const base = { iface: "wg0", privateKeyFile: "/k", listenPort: 0, peers: [] };
  expect(wgSetArgs(base)).toEqual(["set", "wg0", "listen-port", "0", "private-key", "/k"]);
  const peer = { publicKey: KEY_B, allowedIps: ["fd00::1/128"] };
  expect(() => wgSetArgs({ ...base, listenPort: 65536 })).toThrow("listen port 65536: expected 0..65535");
  expect(() => wgSetArgs({ ...base, privateKeyFile: "" })).toThrow("private key file path");
  expect(() => wgSetArgs({ ...base, peers: [{ ...peer, publicKey: "remove" }] })).toThrow(
    "peer public key: expected base64 of 32 bytes",
  );
  for (const endpoint of ["10.0.0.1", "10.0.0.1:0", "[fd00::1]:70000", "a b:1", "10.0.0.1:1,x"])
    expect(() => wgSetArgs({ ...base, peers: [{ ...peer, endpoint }] })).toThrow(
      `endpoint ${JSON.stringify(endpoint)}`,
    );
  expect(() => wgSetArgs({ ...base, peers: [{ ...peer, allowedIps: ["fd00::1"] }] })).toThrow(
    "is not an address/length",
  );
  expect(() => wgSetArgs({ ...base, peers: [{ ...peer, persistentKeepalive: -1 }] })).toThrow(
    "persistent keepalive -1",
  );
  expect(wgRemovePeerArgs("wg0", KEY_C)).toEqual(["set", "wg0", "peer", KEY_C, "remove"]);
  expect(wgDumpArgs("wg0")).toEqual(["show", "wg0", "dump"]);
});

/** `wg show wg-a dump` from the guest check (its private key field replaced by a fresh one here). */
function guestDump(privateKey: string): string {
  return (
    `${privateKey}\t${KEY_A}\t51820\toff\n` +
    `${KEY_B}\t(none)\t[::1]:51821\tfd00:aaaa::2/128,fd00:bbbb::/64,10.99.0.0/24\t1796407028\t180\t272\t1\n` +
    `${KEY_C}\t(none)\t(none)\t(none)\t0\t0\t0\toff\n`
  );
}

test("wg dump: interface and peers parsed; the private key is never in the result", () => {
  const { privateKey } = generateWgKeyPair();
  const parsed = parseWgDump(guestDump(privateKey));
  expect(parsed).toEqual({
    publicKey: KEY_A,
    listenPort: 51820,
    peers: [
      {
        publicKey: KEY_B,
        endpoint: "[::1]:51821",
        allowedIps: ["fd00:aaaa::2/128", "fd00:bbbb::/64", "10.99.0.0/24"],
        latestHandshakeUnix: 1796407028,
        rxBytes: 180,
        txBytes: 272,
        persistentKeepalive: 1,
      },
      {
        publicKey: KEY_C,
        endpoint: undefined,
        allowedIps: [],
        latestHandshakeUnix: 0,
        rxBytes: 0,
        txBytes: 0,
        persistentKeepalive: 0,
      },
    ],
  });
  expect(JSON.stringify(parsed)).not.toContain(privateKey);
  // a link with no key and no peers yet
  expect(parseWgDump("(none)\t(none)\t0\toff\n")).toEqual({ publicKey: undefined, listenPort: 0, peers: [] });
});

test("wg dump: malformed input is an error naming line and field, never a value", () => {
  const { privateKey } = generateWgKeyPair();
  const errorOf = (text: string) => {
    try {
      parseWgDump(text);
    } catch (e) {
      return (e as Error).message;
    }
    return "no error";
  };
  expect(errorOf("")).toBe("wg dump line 1: expected 4 fields, got 0");
  expect(errorOf(`${privateKey}\t${KEY_A}\t51820\n`)).toBe("wg dump line 1: expected 4 fields, got 3");
  expect(errorOf(`${privateKey}\t${KEY_A}\tport\toff\n`)).toBe("wg dump line 1: listen-port is not a count");
  expect(errorOf(guestDump(privateKey).replace("\t180\t", "\t-1\t"))).toBe(
    "wg dump line 2: transfer-rx is not a count",
  );
  expect(errorOf(`${guestDump(privateKey)}${KEY_B}\t(none)\n`)).toBe(
    "wg dump line 4: expected 8 fields, got 2",
  );
});

test("ip -6 -o addr show: address and scope (busybox output from the guest and this host)", () => {
  expect(
    parseIp6Addrs(
      "3: wg-a    inet6 fd00:aaaa::1/64 scope global \\       valid_lft forever preferred_lft forever\n" +
        "3: wg-a    inet6 fe80::1/64 scope link \\       valid_lft forever preferred_lft forever\n",
    ),
  ).toEqual([
    { cidr: "fd00:aaaa::1/64", scope: "global" },
    { cidr: "fe80::1/64", scope: "link" },
  ]);
  expect(
    parseIp6Addrs("1: lo    inet6 ::1/128 scope host \\       valid_lft forever preferred_lft forever\n"),
  ).toEqual([{ cidr: "::1/128", scope: "host" }]);
  expect(parseIp6Addrs("")).toEqual([]);
});

/** A temp /sys whose class/net follows what the recorded `ip link add/set/del` calls do. */
function fakeSystem(links: Record<string, { devtype?: string; mtu: number; up: boolean }> = {}) {
  const sys = temp();
  const net = join(sys, "class/net");
  const put = (name: string, l: { devtype?: string; mtu: number; up: boolean }) => {
    mkdirSync(join(net, name), { recursive: true });
    writeFileSync(
      join(net, name, "uevent"),
      `${l.devtype ? `DEVTYPE=${l.devtype}\n` : ""}INTERFACE=${name}\n`,
    );
    writeFileSync(join(net, name, "mtu"), `${l.mtu}\n`);
    writeFileSync(join(net, name, "flags"), l.up ? "0x91\n" : "0x90\n");
  };
  mkdirSync(net, { recursive: true });
  for (const [name, l] of Object.entries(links)) put(name, l);
  const addrs = new Map<string, string[]>();
  const exec = createRecordingExecFake({
    ip: (args) => {
      const a = args.join(" ");
      let m = /^link add (\S+) type wireguard$/.exec(a);
      if (m) put(m[1] as string, { devtype: "wireguard", mtu: 1420, up: false });
      m = /^link set dev (\S+) mtu (\d+) up$/.exec(a);
      if (m) put(m[1] as string, { devtype: "wireguard", mtu: Number(m[2]), up: true });
      m = /^link del (\S+)$/.exec(a);
      if (m) rmSync(join(net, m[1] as string), { recursive: true });
      m = /^-6 addr (add|del) (\S+) dev (\S+)$/.exec(a);
      if (m) {
        const list = (addrs.get(m[3] as string) ?? []).filter((x) => x !== m?.[2]);
        addrs.set(m[3] as string, m[1] === "add" ? [...list, m[2] as string] : list);
      }
      m = /^-6 -o addr show dev (\S+)$/.exec(a);
      if (m) {
        const dev = m[1] as string;
        const stdout = (addrs.get(dev) ?? [])
          .map(
            (x) =>
              `3: ${dev}    inet6 ${x} scope ${x.startsWith("fe80") ? "link" : "global"} \\       valid_lft forever\n`,
          )
          .join("");
        return { stdout };
      }
      return {};
    },
  });
  return { sys, net, exec, addrs, wg: createWireguard(exec, { sysRoot: sys }) };
}

const ipCalls = (calls: { cmd: string; args: string[] }[]) =>
  calls.map((c) => `${c.cmd} ${c.args.join(" ")}`);

test("ensureInterface: creates, brings up, addresses; a second pass only reads", async () => {
  const s = fakeSystem();
  expect(
    await s.wg.ensureInterface("wg-sdwan-a1b2c3", {
      address: "fd12:3456:789a:1::a",
      prefixLen: 64,
      mtu: 1420,
    }),
  ).toEqual({
    created: true,
    changes: ["created", "mtu 1420 up", "address fd12:3456:789a:1::a/64"],
  });
  expect(ipCalls(s.exec.calls)).toEqual([
    "ip link add wg-sdwan-a1b2c3 type wireguard",
    "ip link set dev wg-sdwan-a1b2c3 mtu 1420 up",
    "ip -6 -o addr show dev wg-sdwan-a1b2c3",
    "ip -6 addr add fd12:3456:789a:1::a/64 dev wg-sdwan-a1b2c3",
  ]);
  s.exec.calls.length = 0;
  expect(
    await s.wg.ensureInterface("wg-sdwan-a1b2c3", {
      address: "fd12:3456:789a:1:0:0:0:a",
      prefixLen: 64,
      mtu: 1420,
    }),
  ).toEqual({
    created: false,
    changes: [],
  });
  expect(ipCalls(s.exec.calls)).toEqual(["ip -6 -o addr show dev wg-sdwan-a1b2c3"]);
});

test("ensureInterface: an existing link gets only what differs; other global addresses go, link-local stays", async () => {
  const s = fakeSystem({ wg0: { devtype: "wireguard", mtu: 1500, up: false } });
  s.addrs.set("wg0", ["fd00:aaaa::11/64", "fe80::1/64"]);
  expect(await s.wg.ensureInterface("wg0", { address: "fd00:aaaa::1", prefixLen: 64, mtu: 1420 })).toEqual({
    created: false,
    changes: ["mtu 1420 up", "removed fd00:aaaa::11/64", "address fd00:aaaa::1/64"],
  });
  expect(ipCalls(s.exec.calls)).toEqual([
    "ip link set dev wg0 mtu 1420 up",
    "ip -6 -o addr show dev wg0",
    "ip -6 addr del fd00:aaaa::11/64 dev wg0",
    "ip -6 addr add fd00:aaaa::1/64 dev wg0",
  ]);
  expect(s.addrs.get("wg0")).toEqual(["fe80::1/64", "fd00:aaaa::1/64"]);
});

test("ensureInterface: held VIPs are /128s beside the address; a VIP no longer held goes", async () => {
  const s = fakeSystem({ wg0: { devtype: "wireguard", mtu: 1420, up: true } });
  s.addrs.set("wg0", ["fd00:aaaa::1/64"]);
  const spec = { address: "fd00:aaaa::1", prefixLen: 64, mtu: 1420 };
  expect(await s.wg.ensureInterface("wg0", { ...spec, vips: ["fd00:aaaa:0:0:dead:beef:0:1a2b"] })).toEqual({
    created: false,
    changes: ["address fd00:aaaa::dead:beef:0:1a2b/128"],
  });
  expect(s.addrs.get("wg0")).toEqual(["fd00:aaaa::1/64", "fd00:aaaa::dead:beef:0:1a2b/128"]);
  s.exec.calls.length = 0;
  expect(await s.wg.ensureInterface("wg0", { ...spec, vips: ["fd00:aaaa::dead:beef:0:1a2b"] })).toEqual({
    created: false,
    changes: [],
  });
  expect(await s.wg.ensureInterface("wg0", spec)).toEqual({
    created: false,
    changes: ["removed fd00:aaaa::dead:beef:0:1a2b/128"],
  });
  expect(s.addrs.get("wg0")).toEqual(["fd00:aaaa::1/64"]);
});

test("ensureInterface: a link of that name that is not wireguard is refused, untouched", async () => {
  const s = fakeSystem({ eth0: { mtu: 1500, up: true }, br0: { devtype: "bridge", mtu: 1500, up: true } });
  const spec = { address: "fd00::1", prefixLen: 64, mtu: 1420 };
  await expect(s.wg.ensureInterface("eth0", spec)).rejects.toThrow(
    "eth0 exists and is not a wireguard link (DEVTYPE=none)",
  );
  await expect(s.wg.ensureInterface("br0", spec)).rejects.toThrow("(DEVTYPE=bridge)");
  expect(s.exec.calls).toEqual([]);
});

test("setConfig, removePeer, show, deleteInterface, listInterfaces run the builders' argv", async () => {
  const { privateKey } = generateWgKeyPair();
  const s = fakeSystem({ "wg-sdwan-a1b2c3": { devtype: "wireguard", mtu: 1420, up: true } });
  mkdirSync(join(s.net, "wg-sdwan-ffffff"));
  mkdirSync(join(s.net, "eth0"));
  const exec = createRecordingExecFake({
    [WG_BIN]: (args) => (args[0] === "show" ? { stdout: guestDump(privateKey) } : {}),
  });
  const wg = createWireguard(exec, { sysRoot: s.sys });
  const config = {
    privateKeyFile: "/k",
    listenPort: 51820,
    peers: [{ publicKey: KEY_B, allowedIps: ["fd00::2/128"] }],
  };
  await wg.setConfig("wg-sdwan-a1b2c3", config);
  await wg.removePeer("wg-sdwan-a1b2c3", KEY_C);
  expect((await wg.show("wg-sdwan-a1b2c3"))?.peers.map((p) => p.publicKey)).toEqual([KEY_B, KEY_C]);
  expect(await wg.show("wg-sdwan-000000")).toBeUndefined();
  expect(await wg.deleteInterface("wg-sdwan-a1b2c3")).toBe(true);
  expect(await wg.deleteInterface("wg-sdwan-000000")).toBe(false);
  expect(wg.listInterfaces("wg-sdwan-")).toEqual(["wg-sdwan-a1b2c3", "wg-sdwan-ffffff"]);
  expect(exec.calls.map((c) => [c.cmd, ...c.args].join(" "))).toEqual([
    `${WG_BIN} ${wgSetArgs({ ...config, iface: "wg-sdwan-a1b2c3" }).join(" ")}`,
    `${WG_BIN} set wg-sdwan-a1b2c3 peer ${KEY_C} remove`,
    `${WG_BIN} show wg-sdwan-a1b2c3 dump`,
    "ip link del wg-sdwan-a1b2c3",
  ]);
  expect(createWireguard(exec, { sysRoot: join(s.sys, "none") }).listInterfaces("wg")).toEqual([]);
});

test("show: a link that vanishes under wg is undefined; any other failure throws with wg's words", async () => {
  const s = fakeSystem({ wg0: { devtype: "wireguard", mtu: 1420, up: true } });
  const stderr = "Unable to access interface: No such device\n"; // as the guest printed it
  let vanish = true;
  const exec = createRecordingExecFake({
    [WG_BIN]: () => {
      if (vanish) rmSync(join(s.net, "wg0"), { recursive: true });
      return {
        exitCode: 1,
        stderr: vanish ? stderr : "Unable to access interface: Operation not permitted\n",
      };
    },
  });
  const wg = createWireguard(exec, { sysRoot: s.sys });
  expect(await wg.show("wg0")).toBeUndefined();
  vanish = false;
  mkdirSync(join(s.net, "wg0"));
  await expect(wg.show("wg0")).rejects.toThrow(
    `${WG_BIN} show wg0 dump: exit 1: Unable to access interface: Operation not permitted`,
  );
});
