/** The desired state's `network` section: the meshes a node is a member of, with its own address. */
import { MeshTopology } from "@powernode/proto";
import { eq } from "drizzle-orm";
import { vrfs } from "../db/schema/index.ts";
import { defineSection } from "../desired-state/index.ts";
import { interfaceName } from "./addresses.ts";
import { membershipsOf } from "./networks.ts";
import { vipsByPrimary } from "./peers.ts";

export const networkSection = defineSection({
  section: "network",
  async compile(tx, node) {
    const rows = await membershipsOf(tx, node.id);
    const vips = await Promise.all(rows.map(({ network }) => vipsByPrimary(tx, network.id)));
    const vrfOf = new Map(
      (await tx.select().from(vrfs).where(eq(vrfs.nodeId, node.id))).map((v) => [v.networkId, v]),
    );
    return {
      meshes: rows.map(({ network, member }, i) => ({
        networkId: network.id,
        handle: network.handle,
        interfaceName: interfaceName(network.handle),
        address: member.address,
        prefix: network.prefix,
        listenPort: network.listenPort,
        topology: network.topology === "hub_and_spoke" ? MeshTopology.HUB_AND_SPOKE : MeshTopology.FULL_MESH,
        hub: member.hub,
        constellationPublicKey: network.signingPublicKey,
        constellationHandle: network.constellationHandle,
        mtu: network.mtu,
        vips: [...(vips[i]?.get(member.id) ?? [])].sort(),
        vrfName: vrfOf.get(network.id)?.vrfName ?? "",
        vrfTable: vrfOf.get(network.id)?.tableId ?? 0,
      })),
    };
  },
});
