/**
 * MeshSyncService (node, mTLS): WatchMeshPeers streams one network's peers to one of its members: a
 * snapshot, then one message per committed change the member sees, then a keepalive every 25 s. A
 * change of one member costs each other member one small message (never a resend of the list). The
 * stream ends when the member leaves or the network is deleted.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import type { MeshSyncService, WatchMeshPeersResponseSchema } from "@powernode/proto";
import { and, eq } from "drizzle-orm";
import { networkMembers } from "../db/schema/index.ts";
import type { Deps } from "../deps.ts";
import { DomainError } from "../errors.ts";
import { requireNode } from "../rpc/context.ts";
import { uuidField } from "../rpc/fields.ts";
import { watch } from "../rpc/watch.ts";
import { resolveNetwork } from "./networks.ts";
import { type NetworkChange, peerBusOf } from "./peer-bus.ts";
import { sees, snapshotFor } from "./peers.ts";

export const MESH_PEERS_KEEPALIVE_MS = 25_000;

type Item =
  | { kind: "snapshot" }
  | { kind: "change"; change: NetworkChange }
  | { kind: "closed" }
  | { kind: "keepalive" };
type Response = MessageInitShape<typeof WatchMeshPeersResponseSchema>;

export function createMeshSyncService(deps: Deps): ServiceImpl<typeof MeshSyncService> {
  return {
    async *watchMeshPeers(req, ctx) {
      const node = requireNode(ctx);
      const networkId = uuidField("network_id", req.networkId);
      const network0 = await resolveNetwork(deps.db, networkId, "network_id");
      const findMember = async () =>
        (
          await deps.db
            .select()
            .from(networkMembers)
            .where(
              and(eq(networkMembers.networkId, networkId), eq(networkMembers.instanceId, node.instanceId)),
            )
        )[0];
      const me = await findMember();
      if (!me)
        throw new DomainError("permission", `network_id: this node is not a member of ${network0.name}`);
      let version = 0;
      for await (const item of watch<Item>({
        signal: ctx.signal,
        subscribe: (push) =>
          peerBusOf(deps).subscribe(
            networkId,
            (change) => push({ kind: "change", change }),
            () => push({ kind: "closed" }),
            () => push({ kind: "snapshot" }),
          ),
        replay: async () => [{ kind: "snapshot" }],
        keepaliveMs: MESH_PEERS_KEEPALIVE_MS,
        keepalive: () => ({ kind: "keepalive" }),
      })) {
        if (item.kind === "closed") return;
        if (item.kind === "keepalive") {
          yield { networkId, version: BigInt(version) } satisfies Response;
          continue;
        }
        if (item.kind === "snapshot") {
          // The rows and the version from one snapshot of the database, so the live changes after it fit.
          const snap = await deps.db.transaction(
            async (tx) => {
              const network = await resolveNetwork(tx, networkId, "network_id");
              return { network, peers: await snapshotFor(tx, network, me) };
            },
            { isolationLevel: "repeatable read" },
          );
          version = snap.network.version;
          yield {
            networkId,
            version: BigInt(version),
            snapshot: true,
            upserts: snap.peers,
          } satisfies Response;
          continue;
        }
        const { network, changes } = item.change;
        if (network.version <= version) continue; // already in the snapshot
        version = network.version;
        if (changes.some((c) => c.kind === "remove" && c.nodeId === node.instanceId) && !(await findMember()))
          return;
        const visible = changes.filter((c) => c.nodeId !== node.instanceId && sees(network, me, c));
        if (visible.length === 0) continue;
        yield {
          networkId,
          version: BigInt(version),
          upserts: visible.flatMap((c) => (c.kind === "upsert" ? [c.peer] : [])),
          removedNodeIds: visible.flatMap((c) => (c.kind === "remove" ? [c.nodeId] : [])),
        } satisfies Response;
      }
    },
  };
}
