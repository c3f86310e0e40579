/**
 * The `storage` section of one node, as a pure function of the storages it exports and the
 * assignments it holds: export lines only for the assigned clients' overlay addresses, a gateway's
 * upstream mount, and client mounts that name the exporting node's VIP, never an upstream address.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { StorageSectionSchema } from "@powernode/proto";

type Section = MessageInitShape<typeof StorageSectionSchema>;

/** What the compiler needs of one storage. */
export interface StorageView {
  id: string;
  name: string;
  shape: "self_hosted" | "gateway_proxy";
  encryption: "none" | "fscrypt";
  exportHostId: string;
  exportPath: string;
  upstreamHost: string | null;
  upstreamPath: string | null;
  upstreamOptions: string | null;
  /** The VIP address (no length), and the interface of the storage's network. */
  vip: string;
  interfaceName: string;
  /** Assigned clients with their overlay address in the storage's network. */
  clients: { nodeId: string; address: string; mountPath: string; options: string; encryption: string }[];
}

export const DEFAULT_MOUNT_OPTIONS = "vers=4.2,proto=tcp,hard";
export const EXPORT_OPTIONS = "rw,sync,no_subtree_check,root_squash";

/** The supervised unit of a gateway's upstream mount. */
export const gatewayUnitName = (storageName: string) => `nfs-gateway-${storageName}`;

/** `[fd00::5]:/srv/x` (IPv6 bracketed) or `10.0.0.5:/srv/x`. */
export function nfsSource(address: string, path: string): string {
  return `${address.includes(":") ? `[${address}]` : address}:${path}`;
}

/** The effective encryption of one assignment. */
export const effectiveEncryption = (storage: Pick<StorageView, "encryption">, assignment: string) =>
  assignment === "none" ? "none" : storage.encryption;

/** Compiles `nodeId`'s section from every storage that concerns it (exported here or mounted here). */
export function compileStorageSection(nodeId: string, storages: readonly StorageView[]): Section {
  const byName = [...storages].sort((a, b) => (a.name < b.name ? -1 : 1));
  // Plain objects in the init shape of the section's messages (create() fills in the rest).
  const exports: object[] = [];
  const upstreams: object[] = [];
  const mounts: object[] = [];
  for (const s of byName) {
    if (s.exportHostId === nodeId) {
      const clients = [...s.clients].sort((a, b) => (a.address < b.address ? -1 : 1));
      exports.push({
        storageId: s.id,
        name: s.name,
        exportPath: s.exportPath,
        deploymentShape: s.shape,
        clients: clients.map((c) => ({ nodeId: c.nodeId, address: c.address, options: EXPORT_OPTIONS })),
        vip: s.vip,
        interfaceName: s.interfaceName,
        encryption: s.encryption,
        allowedSources: clients.map((c) => c.address),
      });
      if (s.shape === "gateway_proxy" && s.upstreamHost && s.upstreamPath)
        upstreams.push({
          storageId: s.id,
          name: s.name,
          upstream: nfsSource(s.upstreamHost, s.upstreamPath),
          options: s.upstreamOptions || DEFAULT_MOUNT_OPTIONS,
          reExportPath: s.exportPath,
          gatewayUnitName: gatewayUnitName(s.name),
        });
    }
    for (const c of s.clients) {
      if (c.nodeId !== nodeId) continue;
      mounts.push({
        storageId: s.id,
        name: s.name,
        // Always the exporting node's VIP: a gateway's clients never learn the upstream.
        source: nfsSource(s.vip, s.exportPath),
        mountPath: c.mountPath,
        options: c.options ? `${DEFAULT_MOUNT_OPTIONS},${c.options}` : DEFAULT_MOUNT_OPTIONS,
        encryption: effectiveEncryption(s, c.encryption),
      });
    }
  }
  return { exports, upstreams, mounts } as Section;
}

/** `/etc/exports` text of a section's exports (what the agent writes; one line per export). */
export function renderExports(section: Section): string {
  return (section.exports ?? [])
    .map((e) => {
      const clients = (e.clients ?? []).map((c) => `${c.address}(${c.options})`);
      return clients.length > 0 ? `${e.exportPath} ${clients.join(" ")}\n` : "";
    })
    .join("");
}
