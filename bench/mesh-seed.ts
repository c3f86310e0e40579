/**
 * Seeding for bench/mesh.ts (not measured): N members of one network written straight into the
 * database, as N joins plus N key reports would leave them. Per member: an instance row (provider
 * "none", running), a network_members row with its stable /128, a real X25519 public key and one
 * endpoint, and one active membership credential whose envelope is built by `canonicalEnvelope` and
 * signed with the network's own constellation key (real Ed25519, so every size below is real). Rows go
 * in batches of `batch` per INSERT; the network's version is set to N at the end (N changes so far).
 */
import { generateKeyPairSync } from "node:crypto";
import { eq } from "../hub/node_modules/drizzle-orm/index.js";
import { type KeyAtRest, networkKeyContext } from "../hub/src/ca/index.ts";
import type { Db } from "../hub/src/db/client.ts";
import { instances, membershipCredentials, networkMembers, networks } from "../hub/src/db/schema/index.ts";
import { memberAddress } from "../hub/src/network/addresses.ts";
import { signEnvelope } from "../hub/src/network/constellation.ts";
import {
  CREDENTIAL_CLOCK_SKEW_SECONDS,
  CREDENTIAL_REFRESH_SECONDS,
  CREDENTIAL_TTL_SECONDS,
} from "../hub/src/network/credentials.ts";
import type { NetworkRow } from "../hub/src/network/networks.ts";
import { canonicalEnvelope } from "../proto/src/index.ts";

/** A seeded member, as a receiver of peer changes needs it. */
export interface SeededMember {
  nodeId: string;
  memberId: string;
  hub: boolean;
}

/** A fresh WireGuard (X25519) public key, base64 of its 32 raw bytes; the private half is dropped. */
export function wgPublicKey(): string {
  const x = generateKeyPairSync("x25519").publicKey.export({ format: "jwk" }).x;
  if (!x) throw new Error("X25519 public key exported no JWK x");
  return Buffer.from(x, "base64url").toString("base64");
}

/** An IPv4 underlay endpoint for member `i` (distinct per member). */
export function endpointOf(i: number): string {
  return `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:51820`;
}

/** Writes `n` members of `network` (see the header); returns them in seeding order. */
export async function seedMembers(
  { db, keys }: { db: Db; keys: KeyAtRest },
  network: NetworkRow,
  n: number,
  opts: { batch?: number; now?: Date } = {},
): Promise<SeededMember[]> {
  const batch = opts.batch ?? 500;
  const now = opts.now ?? new Date();
  const iat = Math.floor(now.getTime() / 1000);
  const out: SeededMember[] = [];
  const signingKeyPem = keys.open(network.signingKeyPem, networkKeyContext(network.id));
  for (let start = 0; start < n; start += batch) {
    const count = Math.min(batch, n - start);
    const chunk = Array.from({ length: count }, (_, j) => {
      const i = start + j;
      const nodeId = crypto.randomUUID();
      return {
        i,
        nodeId,
        memberId: crypto.randomUUID(),
        address: memberAddress(network.prefix, nodeId),
        publicKey: wgPublicKey(),
        endpoints: [endpointOf(i + 1)],
      };
    });
    await db.insert(instances).values(
      chunk.map((c) => ({
        id: c.nodeId,
        name: `mesh-bench-${c.i}`,
        arch: "amd64" as const,
        provider: "none",
        state: "running" as const,
        enrolledAt: now,
        lastHeartbeatAt: now,
      })),
    );
    await db.insert(networkMembers).values(
      chunk.map((c) => ({
        id: c.memberId,
        networkId: network.id,
        instanceId: c.nodeId,
        address: c.address,
        publicKey: c.publicKey,
        listenPort: network.listenPort,
        endpoints: c.endpoints,
      })),
    );
    await db.insert(membershipCredentials).values(
      chunk.map((c) => {
        const envelope = canonicalEnvelope({
          iss: network.constellationHandle,
          sub: c.nodeId,
          aud: `net-${network.handle}`,
          iat,
          nbf: iat - CREDENTIAL_CLOCK_SKEW_SECONDS,
          exp: iat + CREDENTIAL_TTL_SECONDS,
          rev: 1,
          wg_pubkey: c.publicKey,
          addr_v6: c.address,
          endpoints: c.endpoints,
        });
        return {
          networkId: network.id,
          memberId: c.memberId,
          revision: 1,
          status: "active" as const,
          envelope,
          signature: signEnvelope(signingKeyPem, envelope),
          notBefore: new Date((iat - CREDENTIAL_CLOCK_SKEW_SECONDS) * 1000),
          notAfter: new Date((iat + CREDENTIAL_TTL_SECONDS) * 1000),
          refreshAfter: new Date((iat + CREDENTIAL_REFRESH_SECONDS) * 1000),
        };
      }),
    );
    for (const c of chunk) out.push({ nodeId: c.nodeId, memberId: c.memberId, hub: false });
  }
  await db.update(networks).set({ version: n, updatedAt: now }).where(eq(networks.id, network.id));
  return out;
}
