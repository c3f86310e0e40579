/**
 * Pass 6: storage. An NFS share self-hosted on a node of an overlay network, and an upstream NFS server
 * outside the mesh re-exported by a gateway node; clients reach either only at the exporting node's VIP.
 *
 *   bun smokes/pass6.ts --tier db|single|site [--arch amd64|arm64]
 *
 * db:   a real hub and four in-process agents (server, client, gateway, one node never granted), all
 *       members of one overlay network; everything through pnctl. The predecessor's two seeds, checked
 *       on the desired state each agent receives: the server's `storage.exports.apply`, the client's
 *       `storage.mount`, the gateway's `storage.gateway.provision` and its `gateway_proxy` export; the
 *       client's section never holds the upstream address; the ungranted node gets nothing.
 * single: a persistent QEMU node: a file written under /var survives a module swap and a reboot.
 * site: four QEMU nodes: the server's kernel nfsd (nfs-server module) exports at its VIP, the client
 *       mounts and writes 64 MiB the server hashes alike, the gateway (a member never granted) is
 *       refused; the gateway re-exports a NAS outside the mesh and the client reads its file while a
 *       capture shows the client never talking to the NAS; the mount survives the server's reboot,
 *       unassigning unmounts.
 */
import { tierAtLeast } from "./lib/args.ts";
import { definePass, runPass } from "./lib/pass.ts";
import { storageDbTier } from "./pass6/db-tier.ts";
import { persistentTier } from "./pass6/persistent-tier.ts";
import { storageSiteTier } from "./pass6/site-tier.ts";

export const pass6 = definePass({
  id: 6,
  title: "storage: a self-hosted NFS share and a gateway-proxied upstream, over the mesh",
  minTier: "db",
  async run(t) {
    if (tierAtLeast(t.args.tier, "site")) return storageSiteTier(t);
    return t.args.tier === "single" ? persistentTier(t) : storageDbTier(t);
  },
});

if (import.meta.main) await runPass(pass6);
