/**
 * Pass 7: membership credentials. A member of a network gets an Ed25519-signed credential from the
 * network's constellation key; it is reused inside its refresh window, superseded by a new issue and
 * revoked on demand.
 *
 *   bun smokes/pass7.ts --tier db
 *
 * db: a real hub; a node (provider none) joins a network and has a real X25519 WireGuard key; then
 *     ensure-fresh -> active; the wire form's seven fields and the envelope's ten keys; the signature
 *     verifies over the exact envelope string with the network's constellation key and fails on one
 *     flipped byte; ensure-fresh again -> the same row; issue -> a higher revision, the old one no
 *     longer active; revoke -> none active; ensure-fresh -> a new active credential.
 *     Higher tiers run the same checks (nothing here needs a VM).
 */
import { createPublicKey, generateKeyPairSync, randomBytes, verify } from "node:crypto";
import { Arch, ENVELOPE_KEYS, verifyCredential } from "@powernode/proto";
import { and, eq } from "drizzle-orm";
import { membershipCredentials } from "../hub/src/db/schema/index.ts";
import {
  activeCredential,
  type CredentialRow,
  ensureFresh,
  issueCredential,
  revokeCredentials,
  toWire,
} from "../hub/src/network/credentials.ts";
import { createNetwork, joinNetwork, setMemberKey } from "../hub/src/network/networks.ts";
import { type SmokeHub, startSmokeHub } from "./lib/hub.ts";
import { definePass, type PassContext, runPass } from "./lib/pass.ts";

/** The wire form's fields (MembershipCredential, protobuf-es names). */
const WIRE_FIELDS = [
  "envelope",
  "signature",
  "constellationHandle",
  "revision",
  "notBefore",
  "notAfter",
  "refreshAfter",
] as const;

interface McFixture {
  networkId: string;
  networkHandle: string;
  constellationPublicKey: string;
  nodeId: string;
  memberId: string;
  address: string;
  wgPublicKey: string;
}

/** A fresh X25519 key pair's raw public key (base64), as a node's WireGuard would report it. */
function x25519PublicKey(): string {
  const { publicKey } = generateKeyPairSync("x25519");
  const x = publicKey.export({ format: "jwk" }).x;
  if (!x) throw new Error("x25519 public key exported no JWK x");
  return Buffer.from(x, "base64url").toString("base64");
}

/**
 * The network `smoke-mc-network` (random fd00:dead:beef:XXXX::/64, hub and spoke, its own constellation
 * key), the node `smoke-mc-host` (provider none) joined to it, and the member's reported WireGuard key
 * and endpoint, all through the network feature's domain functions.
 */
async function createMcFixture(s: SmokeHub, stamp: string): Promise<McFixture> {
  const deps = s.hub.deps;
  const created = await s.provision.createInstance({
    name: `smoke-mc-host-${stamp}`,
    arch: Arch.AMD64,
    provider: "none",
  });
  const nodeId = created.instance?.id;
  if (!nodeId) throw new Error("createInstance returned no instance");
  const network = await createNetwork(deps, {
    name: `smoke-mc-network-${stamp}`,
    prefix: `fd00:dead:beef:${randomBytes(2).toString("hex")}::/64`,
    topology: "hub_and_spoke",
  });
  const member = await joinNetwork(deps, { network: network.id, nodeId });
  const wgPublicKey = x25519PublicKey();
  await deps.db.transaction((tx) =>
    setMemberKey(tx, member, { publicKey: wgPublicKey, listenPort: 51820, endpoints: ["192.0.2.10:51820"] }),
  );
  return {
    networkId: network.id,
    networkHandle: network.handle,
    constellationPublicKey: network.signingPublicKey,
    nodeId,
    memberId: member.id,
    address: member.address,
    wgPublicKey,
  };
}

/** Verifies with node:crypto alone (the raw key as a JWK): an oracle beside verifyCredential. */
function ed25519Verifies(publicKeyB64: string, text: string | Buffer, signatureB64: string): boolean {
  const key = createPublicKey({
    key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(publicKeyB64, "base64").toString("base64url") },
    format: "jwk",
  });
  return verify(
    null,
    typeof text === "string" ? Buffer.from(text, "utf8") : text,
    key,
    Buffer.from(signatureB64, "base64"),
  );
}

async function checks(t: PassContext, s: SmokeHub): Promise<void> {
  const deps = s.hub.deps;
  const fx = await t.step("network smoke-mc-network with member smoke-mc-host (real X25519 key)", () =>
    createMcFixture(s, `${Date.now()}`),
  );
  t.info(`network ${fx.networkId} (net-${fx.networkHandle}), node ${fx.nodeId}, address ${fx.address}`);
  const statusesOf = async () =>
    deps.db
      .select({
        id: membershipCredentials.id,
        revision: membershipCredentials.revision,
        status: membershipCredentials.status,
      })
      .from(membershipCredentials)
      .where(eq(membershipCredentials.memberId, fx.memberId));

  let first: CredentialRow | undefined;
  await t.check("ensure-fresh -> an active credential", async () => {
    const r = await ensureFresh(deps, fx.memberId);
    first = r.credential;
    if (r.credential.status !== "active") throw new Error(`status ${r.credential.status}`);
    const active = await activeCredential(deps.db, fx.memberId);
    if (active?.id !== r.credential.id)
      throw new Error(`active credential is ${active?.id}, want ${r.credential.id}`);
    return `revision ${r.credential.revision}, valid to ${r.credential.notAfter.toISOString()}`;
  });
  if (!first) return;
  const row = first;
  const wire = toWire(row);

  await t.check("toWire has the seven fields", () => {
    const w = wire as unknown as Record<string, unknown>;
    const missing = WIRE_FIELDS.filter((f) => w[f] === undefined || w[f] === "" || w[f] === 0n);
    if (missing.length > 0) throw new Error(`empty: ${missing.join(", ")}`);
    return WIRE_FIELDS.join(", ");
  });

  await t.check("the envelope has exactly the ten keys, in order", () => {
    const keys = Object.keys(JSON.parse(wire.envelope) as object);
    if (JSON.stringify(keys) !== JSON.stringify(ENVELOPE_KEYS))
      throw new Error(`keys ${keys.join(",")}, want ${ENVELOPE_KEYS.join(",")}`);
    return keys.join(", ");
  });

  await t.check("the signature verifies over the exact envelope string with the constellation key", () => {
    if (!ed25519Verifies(fx.constellationPublicKey, wire.envelope, wire.signature))
      throw new Error("node:crypto: does not verify");
    const v = verifyCredential(wire, fx.constellationPublicKey, {
      now: new Date(),
      expect: {
        publicKey: fx.wgPublicKey,
        address: fx.address,
        aud: `net-${fx.networkHandle}`,
        sub: fx.nodeId,
      },
    });
    if (!v.ok) throw new Error(`verifyCredential: ${v.reason}`);
    return `${wire.constellationHandle}, ${wire.envelope.length} bytes`;
  });

  await t.check("one flipped byte of the envelope or of the signature fails it", () => {
    const bytes = Buffer.from(wire.envelope, "utf8");
    const i = bytes.length >> 1;
    bytes[i] = (bytes[i] ?? 0) ^ 0x01;
    if (ed25519Verifies(fx.constellationPublicKey, bytes, wire.signature))
      throw new Error(`flipped envelope byte ${i} still verifies`);
    const v = verifyCredential({ ...wire, envelope: bytes.toString("utf8") }, fx.constellationPublicKey, {
      now: new Date(),
    });
    if (v.ok) throw new Error("verifyCredential accepted a flipped envelope");
    const sig = Buffer.from(wire.signature, "base64");
    sig[5] = (sig[5] ?? 0) ^ 0x80;
    if (ed25519Verifies(fx.constellationPublicKey, wire.envelope, sig.toString("base64")))
      throw new Error("flipped signature byte still verifies");
    return v.reason;
  });

  await t.check("ensure-fresh again -> the same row, the same revision", async () => {
    const again = await ensureFresh(deps, fx.memberId);
    if (again.issued || again.credential.id !== row.id || again.credential.revision !== row.revision)
      throw new Error(`got ${again.credential.id} rev ${again.credential.revision} (issued ${again.issued})`);
    return `row ${row.id.slice(0, 8)}, revision ${row.revision}`;
  });

  await t.check("issue -> a new row with a higher revision; the old one is no longer active", async () => {
    const next = await issueCredential(deps, fx.memberId);
    if (next.id === row.id || next.revision <= row.revision)
      throw new Error(`new row ${next.id} rev ${next.revision} after ${row.id} rev ${row.revision}`);
    const old = (await statusesOf()).find((r) => r.id === row.id);
    if (old?.status === "active") throw new Error("the old credential is still active");
    return `revision ${row.revision} -> ${next.revision}, old one ${old?.status}`;
  });

  await t.check("revoke -> at least one revoked, none active", async () => {
    const n = await revokeCredentials(deps, fx.memberId);
    if (n < 1) throw new Error(`revoked ${n}`);
    const active = await deps.db
      .select({ id: membershipCredentials.id })
      .from(membershipCredentials)
      .where(
        and(eq(membershipCredentials.memberId, fx.memberId), eq(membershipCredentials.status, "active")),
      );
    if (active.length > 0) throw new Error(`${active.length} still active`);
    return `${n} revoked`;
  });

  await t.check("ensure-fresh after the revocation -> a new active credential", async () => {
    const r = await ensureFresh(deps, fx.memberId);
    const statuses = await statusesOf();
    if (!r.issued || r.credential.status !== "active")
      throw new Error(`issued ${r.issued}, ${r.credential.status}`);
    if (statuses.filter((x) => x.status === "active").length !== 1)
      throw new Error(`statuses ${JSON.stringify(statuses)}`);
    return `revision ${r.credential.revision} active; ${statuses.length} credentials in all`;
  });
}

export const pass7 = definePass({
  id: 7,
  title: "membership credentials: ensure-fresh, wire form, signature, supersede, revoke",
  minTier: "db",
  async run(t) {
    const s = await t.step("start a hub (in-memory PGlite)", () => startSmokeHub(t));
    await checks(t, s);
  },
});

if (import.meta.main) await runPass(pass7);
