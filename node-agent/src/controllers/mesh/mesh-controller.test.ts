/**
 * The mesh controller against the WireGuard fake (the host kernel has no WireGuard; the real interface
 * is proven in QEMU by pass 3): interface, address, key and port from the desired state; only peers
 * whose credential verifies are configured; a peer removed or expired is dropped; MeshStatus carries
 * the report the heartbeat sends.
 */
import { expect, setDefaultTimeout, test } from "bun:test";

setDefaultTimeout(20_000);

import { generateKeyPairSync, sign } from "node:crypto";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  canonicalEnvelope,
  constellationHandleOf,
  DesiredStateSchema,
  EVENTS,
  type MeshPeer,
  MeshPeerSchema,
  MeshTopology,
} from "@powernode/proto";
import { assertResource, startTestEngine } from "../../../test/engine-harness.ts";
import { createSystemClock } from "../../runtime/clock.ts";
import { createPhaseRecorder } from "../../runtime/phases.ts";
import { generateWgKeyPair } from "../../sys/wireguard.ts";
import { createRecordingWireguardFake } from "../../sys/wireguard-fake.ts";
import type { AgentDeps } from "../deps.ts";
import { DesiredNodeState, MeshPeers, MeshStatus } from "../resources.ts";
import { meshController } from "./mesh-controller.ts";

const constellation = generateKeyPairSync("ed25519");
const constellationPub = Buffer.from(
  constellation.publicKey.export({ format: "jwk" }).x ?? "",
  "base64url",
).toString("base64");
const networkId = "7a3c2f10-0000-4000-8000-000000000001";
const handle = "7a3c2f";
const iface = `wg-sdwan-${handle}`;

function peer(
  nodeId: string,
  address: string,
  opts: { expSeconds?: number; tamper?: boolean } = {},
): MeshPeer {
  const key = generateWgKeyPair();
  const now = Math.floor(Date.now() / 1000);
  const envelope = canonicalEnvelope({
    iss: constellationHandleOf(constellationPub),
    sub: nodeId,
    aud: `net-${handle}`,
    iat: now,
    nbf: now - 30,
    exp: now + (opts.expSeconds ?? 3600),
    rev: 1,
    wg_pubkey: key.publicKey,
    addr_v6: address,
    endpoints: ["10.203.1.11:51820"],
  });
  const sig = sign(null, Buffer.from(envelope), constellation.privateKey).toString("base64");
  return create(MeshPeerSchema, {
    nodeId,
    publicKey: key.publicKey,
    address,
    allowedIps: [`${address}/128`],
    endpoints: ["10.203.1.11:51820"],
    persistentKeepaliveSeconds: 25,
    credential: {
      envelope: opts.tamper ? envelope.replace('"rev":1', '"rev":2') : envelope,
      signature: sig,
      constellationHandle: constellationHandleOf(constellationPub),
      revision: 1n,
      notBefore: timestampFromDate(new Date((now - 30) * 1000)),
      notAfter: timestampFromDate(new Date((now + (opts.expSeconds ?? 3600)) * 1000)),
    },
  });
}

const desired = create(DesiredStateSchema, {
  version: 3n,
  network: {
    meshes: [
      {
        networkId,
        handle,
        interfaceName: iface,
        address: "fd12:3456:789a:1::a",
        prefix: "fd12:3456:789a:1::/64",
        listenPort: 51820,
        topology: MeshTopology.FULL_MESH,
        constellationPublicKey: constellationPub,
        mtu: 1420,
      },
    ],
  },
});

test("mesh: interface, key, verified peers only; removal and expiry drop a peer; the report for the heartbeat", async () => {
  const keyDir = mkdtempSync(join(tmpdir(), "mesh-keys-"));
  const wg = createRecordingWireguardFake();
  const phases = createPhaseRecorder(createSystemClock());
  const deps = { phases, backoff: {} } as unknown as AgentDeps;
  const good = peer("11111111-0000-4000-8000-000000000001", "fd12:3456:789a:1::b");
  const forged = peer("22222222-0000-4000-8000-000000000002", "fd12:3456:789a:1::c", { tamper: true });
  const expiring = peer("33333333-0000-4000-8000-000000000003", "fd12:3456:789a:1::d", { expSeconds: 2 });
  await using engine = startTestEngine(
    [meshController({ ...deps, mesh: { wireguard: wg, keyDir, underlayAddresses: () => ["10.203.1.10"] } })],
    [
      { type: DesiredNodeState, id: "node", spec: desired },
      { type: MeshPeers, id: networkId, spec: { version: 1n, peers: [good, forged, expiring], messages: 1 } },
    ],
  );
  const report = await assertResource(engine, MeshStatus, networkId, (s) => s.peers.length === 2);
  const i = wg.interfaces.get(iface);
  expect(i?.address).toBe("fd12:3456:789a:1::a");
  expect(i?.prefixLen).toBe(64);
  expect(i?.mtu).toBe(1420);
  expect(i?.listenPort).toBe(51820);
  expect([...(i?.peers.keys() ?? [])].sort()).toEqual([good.publicKey, expiring.publicKey].sort());
  expect(i?.peers.get(good.publicKey)).toMatchObject({
    allowedIps: ["fd12:3456:789a:1::b/128"],
    endpoint: "10.203.1.11:51820",
    persistentKeepalive: 25,
  });
  expect(report?.endpoints).toEqual(["10.203.1.10:51820"]);
  expect(report?.publicKey).toMatch(/^[A-Za-z0-9+/]{43}=$/);
  expect(report?.peers.find((p) => p.publicKey === good.publicKey)?.nodeId).toBe(good.nodeId);
  expect(statSync(join(keyDir, `${handle}.key`)).mode & 0o777).toBe(0o600);
  const rejected = phases.all().filter((p) => p.kind === EVENTS.meshPeerRejected.kind);
  expect(rejected.map((p) => p.payload?.peer)).toEqual([forged.nodeId]);
  expect(phases.all().some((p) => p.kind === EVENTS.meshInterfaceUp.kind)).toBe(true);

  // The expiring credential runs out: the next pass (woken here by a peer-list change) drops it.
  await Bun.sleep(2100);
  engine.store.set(MeshPeers, networkId, { version: 2n, peers: [good, forged, expiring], messages: 2 });
  await assertResource(engine, MeshStatus, networkId, (s) => s.peers.length === 1);
  // The hub removes the good peer: the interface has none left.
  engine.store.set(MeshPeers, networkId, { version: 3n, peers: [], messages: 3 });
  await assertResource(engine, MeshStatus, networkId, (s) => s.peers.length === 0);
  expect(wg.interfaces.get(iface)?.peers.size).toBe(0);

  // The mesh leaves the desired state: its interface is deleted.
  engine.store.set(DesiredNodeState, "node", create(DesiredStateSchema, { version: 4n }));
  await assertResource(engine, MeshStatus, networkId, undefined);
  expect(wg.interfaces.has(iface)).toBe(false);
  rmSync(keyDir, { recursive: true, force: true });
});
