import { expect, test } from "bun:test";
import { generateKeyPairSync, sign } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  canonicalEnvelope,
  constellationHandleOf,
  MeshMembershipSchema,
  type MeshPeer,
  MeshPeerSchema,
} from "@powernode/proto";
import { generateWgKeyPair } from "../../sys/wireguard.ts";
import { decidePeers } from "./peer-config.ts";

const k = generateKeyPairSync("ed25519");
const pub = Buffer.from(k.publicKey.export({ format: "jwk" }).x ?? "", "base64url").toString("base64");
const iss = constellationHandleOf(pub);
const mesh = create(MeshMembershipSchema, { networkId: "n", handle: "abc123", constellationPublicKey: pub });
const now = Math.floor(Date.now() / 1000);

function peer(
  rev: number,
  over: Partial<{ sub: string; aud: string; address: string; exp: number }> = {},
): MeshPeer {
  const key = generateWgKeyPair();
  const e = {
    iss,
    sub: over.sub ?? "node-1",
    aud: over.aud ?? "net-abc123",
    iat: now,
    nbf: now - 30,
    exp: over.exp ?? now + 3600,
    rev,
    wg_pubkey: key.publicKey,
    addr_v6: over.address ?? "fd00::1",
    endpoints: ["10.0.0.1:51820"],
  };
  const envelope = canonicalEnvelope(e);
  return create(MeshPeerSchema, {
    nodeId: "node-1",
    publicKey: key.publicKey,
    address: "fd00::1",
    allowedIps: ["fd00::1/128"],
    endpoints: ["10.0.0.1:51820"],
    persistentKeepaliveSeconds: 25,
    credential: {
      envelope,
      signature: sign(null, Buffer.from(envelope), k.privateKey).toString("base64"),
      constellationHandle: iss,
      revision: BigInt(rev),
      notBefore: timestampFromDate(new Date(e.nbf * 1000)),
      notAfter: timestampFromDate(new Date(e.exp * 1000)),
    },
  });
}

test("a peer is configured only when its credential names it, this network, and is current", () => {
  const at = new Date();
  const ok = decidePeers(mesh, [peer(1)], at);
  expect(ok.accepted.map((a) => a.config)).toEqual([
    {
      publicKey: ok.accepted[0]?.peer.publicKey ?? "",
      allowedIps: ["fd00::1/128"],
      endpoint: "10.0.0.1:51820",
      persistentKeepalive: 25,
    },
  ]);
  const reasons = (p: MeshPeer, min?: number) =>
    decidePeers(mesh, [p], at, () => min).rejected.map((r) => r.reason);
  expect(reasons(peer(1, { sub: "node-2" }))[0]).toMatch(/^sub: /);
  expect(reasons(peer(1, { aud: "net-other" }))[0]).toMatch(/^aud: /);
  expect(reasons(peer(1, { address: "fd00::2" }))[0]).toMatch(/^addr_v6: /);
  expect(reasons(peer(1, { exp: now - 1 }))[0]).toMatch(/^exp: expired/);
  expect(reasons(peer(1), 2)[0]).toMatch(/^rev: 1 is below revision 2/);
  expect(reasons(create(MeshPeerSchema, { nodeId: "x" }))).toEqual(["no credential"]);
});
