/**
 * Pass 6, site tier, the gateway part: a NAS outside the mesh (a QEMU node never joined; it serves a
 * plain NFS export on its lab address through the test-only `debug.nas`), a `gateway_proxy` storage
 * whose gateway mounts the NAS and re-exports it at its own VIP, and the client reading the NAS's file
 * through the gateway while a capture on the lab bridge shows the client never talking to the NAS.
 */
import { join } from "node:path";
import { setDebugSpec } from "@powernode/hub";
import { EVENTS } from "@powernode/proto";
import { eventsOf as nodeEventsOf, probe as probeNode } from "../lib/debug-probe.ts";
import type { PassContext } from "../lib/pass.ts";
import type { SiteNode, SiteNodes } from "../lib/site-nodes.ts";
import { waitFor } from "../lib/wait.ts";

const SHARE = "pass6-gateway";
const GATEWAY_PATH = "/var/lib/powernode/storage/pass6-gateway";
const MOUNT = "/mnt/pass6-gateway";
const NAS_PATH = "/srv/nas";
const NAS_FILE = "upstream.bin";
/** The NAS export's fsid (any uuid: it names the export, not a hub storage). */
const NAS_ID = "5e1f0000-0000-4000-8000-00000000000a";
const TIMEOUT_MS = 240_000;

interface GatewayNodes {
  client: SiteNode;
  gateway: SiteNode;
  nas: SiteNode;
  network: string;
  pnctl(...argv: string[]): Promise<string>;
}

export async function gatewayChecks(t: PassContext, site: SiteNodes, g: GatewayNodes): Promise<void> {
  const { client, gateway, nas } = g;
  const eventsOf = (n: SiteNode, kind: string) => nodeEventsOf(site.hub, n, kind);
  const probe = (n: SiteNode, spec: Parameters<typeof setDebugSpec>[2], kind: string, count: number) =>
    probeNode(site.hub, n, spec, kind, count, TIMEOUT_MS);
  const nasExport = {
    storageId: NAS_ID,
    name: "nas",
    exportPath: NAS_PATH,
    deploymentShape: "self_hosted",
    clients: [
      {
        nodeId: gateway.instanceId,
        address: gateway.underlayAddress,
        options: "rw,sync,no_subtree_check,root_squash",
      },
    ],
  };
  const upstream = await t.step(
    `the NAS (outside the mesh) exports ${NAS_PATH} to the gateway's lab address and holds a 16 MiB file`,
    async () => {
      if (!nas.underlayAddress || !gateway.underlayAddress)
        throw new Error("no lab address for the NAS or the gateway");
      await setDebugSpec(site.hub.hub.deps, nas.instanceId, { nas: [nasExport] });
      await waitFor(
        "the NAS's system.storage.exports_applied",
        async () =>
          (await eventsOf(nas, EVENTS.storageExportsApplied.kind)).find(
            (e) => Number(e.payload?.clients) > 0,
          ),
        { timeoutMs: TIMEOUT_MS, intervalMs: 1000 },
      );
      const [w] = await probe(
        nas,
        { nas: [nasExport], write: [{ path: `${NAS_PATH}/${NAS_FILE}`, mib: 16 }] },
        EVENTS.debugFile.kind,
        1,
      );
      if (w?.result !== "ok") throw new Error(`writing on the NAS: ${JSON.stringify(w)}`);
      return w;
    },
  );

  const capture = await t.step("capture on the lab bridge", () =>
    site.lab.capture(join(t.outDir, "lab.pcap")),
  );
  t.keepOnFailure("lab capture", capture.file);
  await t.step(`gateway share: the NAS re-exported by the gateway, the client at ${MOUNT}`, async () => {
    await g.pnctl(
      ...["storage", "create", SHARE, "--network", g.network, "--host", gateway.instanceId],
      ...["--path", GATEWAY_PATH, "--upstream", `${nas.underlayAddress}:${NAS_PATH}`, "--json"],
    );
    await g.pnctl("storage", "assign", SHARE, client.instanceId, "--mount", MOUNT);
    await waitFor(
      "the client's system.storage.mounted of the gateway share",
      async () =>
        (await eventsOf(client, EVENTS.storageMounted.kind)).find((e) => e.payload?.storage === SHARE),
      { timeoutMs: TIMEOUT_MS, intervalMs: 1000 },
    );
  });
  const [read] = await t.step("the client reads the NAS's file through the gateway", () =>
    probe(client, { hash: [{ path: `${MOUNT}/${NAS_FILE}` }] }, EVENTS.debugFile.kind, 1),
  );
  const packets = await capture.stop();
  await t.check("the client reads the NAS's bytes through the gateway (same sha256)", async () => {
    if (read?.result !== "ok" || read.sha256 !== upstream.sha256)
      throw new Error(`client ${JSON.stringify(read)} NAS ${JSON.stringify(upstream)}`);
    return `${NAS_FILE}: ${Number(read.bytes) / 2 ** 20} MiB, sha256 ${String(read.sha256).slice(0, 12)}.. on both`;
  });
  await t.check("the capture: the client never talks to the NAS; the gateway does (NFS)", async () => {
    const between = (a: string, b: string) =>
      packets.filter(
        (p) => p.protocol !== "arp" && ((p.src === a && p.dst === b) || (p.src === b && p.dst === a)),
      );
    const direct = between(client.underlayAddress, nas.underlayAddress);
    if (direct.length > 0) throw new Error(`${direct.length} packet(s) between the client and the NAS`);
    const nfs = between(gateway.underlayAddress, nas.underlayAddress).filter(
      (p) => p.srcPort === 2049 || p.dstPort === 2049,
    );
    if (nfs.length === 0) throw new Error("no NFS between the gateway and the NAS in the capture");
    const viaMesh = between(client.underlayAddress, gateway.underlayAddress).length;
    return `${packets.length} packets: client<->NAS 0, gateway<->NAS NFS ${nfs.length}, client<->gateway ${viaMesh} (WireGuard)`;
  });
}
