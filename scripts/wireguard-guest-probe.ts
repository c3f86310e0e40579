/**
 * Runs inside a node guest (bundled by `scripts/wireguard-guest-check.ts`, started by its test /init as
 * `BUN_BE_BUN=1 /bin/powernode-agent probe.js`): the agent's real `createWireguard` and `createPing`
 * against the guest's kernel, busybox `ip` and the image's `wg`, with the recording fake run through the
 * same steps and compared. Prints `wg-check: ok|FAIL <step>` lines, raw captures as
 * `wg-check: raw <name> <json>`, and `wg-check: done <ok> ok <failed> failed` last.
 */
import { statSync } from "node:fs";
import { createExeca } from "../node-agent/src/sys/exec.ts";
import { parseCidr } from "../node-agent/src/sys/ip-address.ts";
import { createPing } from "../node-agent/src/sys/ping.ts";
import {
  addrShowArgs,
  createWireguard,
  generateWgKeyPair,
  loadOrCreateWgKey,
  WG_BIN,
  type WgDump,
  type WireguardSys,
  wgDumpArgs,
} from "../node-agent/src/sys/wireguard.ts";
import { createRecordingWireguardFake } from "../node-agent/src/sys/wireguard-fake.ts";

const exec = createExeca();
let ok = 0;
let failed = 0;
const say = (line: string) => process.stdout.write(`wg-check: ${line}\n`);

async function step(name: string, fn: () => unknown): Promise<void> {
  try {
    const detail = await fn();
    ok++;
    say(`ok ${name}${detail === undefined ? "" : ` ${JSON.stringify(detail)}`}`);
  } catch (e) {
    failed++;
    const causes: string[] = [];
    for (let c: unknown = e; c instanceof Error; c = c.cause) causes.push(c.message);
    say(`FAIL ${name}: ${causes.join(": ")}`);
  }
}

function same(what: string, got: unknown, want: unknown): void {
  if (JSON.stringify(got) !== JSON.stringify(want))
    throw new Error(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
}

/** The dump without what traffic changes, to compare the real kernel with the fake. */
const shape = (d: WgDump | undefined) =>
  d && {
    ...d,
    peers: d.peers.map(({ latestHandshakeUnix: _h, rxBytes: _r, txBytes: _t, ...p }) => p),
  };

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(200);
  }
}

const real = createWireguard(exec);
const fake = createRecordingWireguardFake();
const keyDir = "/run/powernode/wireguard";
const A = { iface: "wg-a", address: "fd00:aaaa::1", port: 51820 };
const B = { iface: "wg-b", address: "fd00:aaaa::2", port: 51821 };
const C = generateWgKeyPair();

await step("wg --version", async () => (await exec.run(WG_BIN, ["--version"])).stdout.trim());
const keyA = loadOrCreateWgKey(keyDir, "a");
const keyB = loadOrCreateWgKey(keyDir, "b");
await step("key files 0600 in a 0700 dir, reloaded unchanged", () => {
  same("file mode", statSync(keyA.privateKeyFile).mode & 0o777, 0o600);
  same("dir mode", statSync(keyDir).mode & 0o777, 0o700);
  same("reload", loadOrCreateWgKey(keyDir, "a"), keyA);
});

/** The same steps on the real system and on the fake; their results must agree. */
async function both<T>(name: string, fn: (w: WireguardSys) => Promise<T>): Promise<T | undefined> {
  let r: T | undefined;
  await step(name, async () => {
    r = await fn(real);
    same("fake", await fn(fake), r);
    return r;
  });
  return r;
}

const spec = (address: string, mtu = 1420) => ({ address, prefixLen: 64, mtu });
await both("ensureInterface wg-a creates", (w) => w.ensureInterface(A.iface, spec(A.address)));
await both("ensureInterface wg-a again changes nothing", (w) => w.ensureInterface(A.iface, spec(A.address)));
await both("ensureInterface wg-a mtu 1400", (w) => w.ensureInterface(A.iface, spec(A.address, 1400)));
await both("ensureInterface wg-a new address", (w) => w.ensureInterface(A.iface, spec("fd00:aaaa::11")));
await both("ensureInterface wg-a back", (w) => w.ensureInterface(A.iface, spec(A.address)));
await both("ensureInterface wg-b creates", (w) => w.ensureInterface(B.iface, spec(B.address)));
await step("ensureInterface refuses lo (not a wireguard link)", async () => {
  const err = await real.ensureInterface("lo", spec("fd00:cccc::1")).then(
    () => undefined,
    (e: Error) => e.message,
  );
  if (!err?.includes("not a wireguard link")) throw new Error(`got ${err}`);
  return err;
});
await step("sysfs of wg-a: DEVTYPE, mtu, up", async () => {
  const r = await exec.run("cat", [`/sys/class/net/${A.iface}/uevent`, `/sys/class/net/${A.iface}/mtu`]);
  const flags = (await exec.run("cat", [`/sys/class/net/${A.iface}/flags`])).stdout.trim();
  say(`raw sysfs ${JSON.stringify(r.stdout)}`);
  if (!r.stdout.includes("DEVTYPE=wireguard") || (Number.parseInt(flags, 16) & 1) !== 1)
    throw new Error(`${r.stdout} flags ${flags}`);
});
await step("ip -6 -o addr show dev wg-a (raw)", async () => {
  say(`raw addr ${JSON.stringify((await exec.run("ip", addrShowArgs(A.iface))).stdout)}`);
});

const peerB = {
  publicKey: keyB.publicKey,
  allowedIps: [`${B.address}/128`, "fd00:bbbb::5/64", "10.99.0.7/24"],
  endpoint: `[::1]:${B.port}`,
  persistentKeepalive: 1,
};
const peerC = { publicKey: C.publicKey, allowedIps: [] };
await both("setConfig wg-a (peers b and c)", (w) =>
  w.setConfig(A.iface, { privateKeyFile: keyA.privateKeyFile, listenPort: A.port, peers: [peerB, peerC] }),
);
await both("setConfig wg-b (peer a)", (w) =>
  w.setConfig(B.iface, {
    privateKeyFile: keyB.privateKeyFile,
    listenPort: B.port,
    peers: [
      {
        publicKey: keyA.publicKey,
        allowedIps: [`${A.address}/128`],
        endpoint: `[::1]:${A.port}`,
        persistentKeepalive: 1,
      },
    ],
  }),
);
await step("handshake over the loopback", async () => {
  const d = await waitFor("a handshake between wg-a and wg-b", 30_000, async () => {
    const s = await real.show(A.iface);
    return s?.peers[0]?.latestHandshakeUnix ? s : undefined;
  });
  // the private key (field 1) is withheld even for this throwaway test key
  const dump = (await exec.run(WG_BIN, wgDumpArgs(A.iface))).stdout.replace(/^[^\t\n]*/, "(withheld)");
  say(`raw dump ${JSON.stringify(dump)}`);
  return d.peers[0];
});
await both("show wg-a", async (w) => {
  const d = shape(await w.show(A.iface));
  same("public key", d?.publicKey, keyA.publicKey);
  same(
    "allowed ips as the kernel shows them",
    d?.peers[0]?.allowedIps,
    peerB.allowedIps.map((a) => parseCidr(a).text),
  );
  return d;
});
await both("show wg-b", async (w) => shape(await w.show(B.iface)));

const ping = createPing(exec);
// One kernel holds both ends, so the echo reply comes back over lo, which a socket bound to wg-a
// never sees: the request entering the tunnel (tx bytes) is what can be checked here.
await step("ping fd00:aaaa::2 -I wg-a: into the tunnel, summary read from an exit 1", async () => {
  const before = (await real.show(A.iface))?.peers[0]?.txBytes ?? 0;
  const r = await ping.ping(B.address, { iface: A.iface, count: 2 });
  const after = (await real.show(A.iface))?.peers[0]?.txBytes ?? 0;
  same("transmitted", r.transmitted, 2);
  if (!(after > before)) throw new Error(`tx bytes did not grow (${before} -> ${after})`);
  return { ...r, txBytes: [before, after] };
});
await step("ping ::1: replies", async () => {
  const r = await ping.ping("::1", { count: 2 });
  same("received", r.received, 2);
  return r;
});
await step("ping fd00:aaaa::99 -I wg-a (no peer has it)", async () =>
  ping.ping("fd00:aaaa::99", { iface: A.iface, count: 1, waitSeconds: 1 }).catch((e: Error) => e.message),
);
await step("ping busybox output (raw)", async () => {
  for (const [target, iface] of [
    ["fd00:aaaa::99", A.iface],
    [B.address, A.iface],
    ["::1", "lo"],
  ] as const) {
    const r = await exec.run("ping", ["-q", "-c", "1", "-W", "1", "-I", iface, target], {
      allowFailure: true,
    });
    say(`raw ping ${JSON.stringify({ target, exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr })}`);
  }
});

await both("setConfig again without b's endpoint keeps it", async (w) => {
  await w.setConfig(A.iface, {
    privateKeyFile: keyA.privateKeyFile,
    listenPort: A.port,
    peers: [{ ...peerB, endpoint: undefined }],
  });
  return (await w.show(A.iface))?.peers[0]?.endpoint;
});
await both("removePeer c, then an unknown peer", async (w) => {
  await w.removePeer(A.iface, C.publicKey);
  await w.removePeer(A.iface, generateWgKeyPair().publicKey);
  return (await w.show(A.iface))?.peers.map((p) => p.publicKey === keyB.publicKey);
});
await both("listInterfaces wg-", async (w) => w.listInterfaces("wg-"));
await both("deleteInterface wg-b twice, then show", async (w) => [
  await w.deleteInterface(B.iface),
  await w.deleteInterface(B.iface),
  await w.show(B.iface),
]);
await step("wg show of a missing link (raw)", async () => {
  const r = await exec.run(WG_BIN, wgDumpArgs(B.iface), { allowFailure: true });
  say(`raw missing ${JSON.stringify({ exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr })}`);
});
await both("deleteInterface wg-a", (w) => w.deleteInterface(A.iface));

say(`done ${ok} ok ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
