/**
 * What the storage controller writes and runs, as pure functions of the desired state's `storage`
 * section: `/etc/exports`, the argv of rpc.nfsd / rpc.mountd / exportfs (NFS v4 only: no rpcbind, no
 * lockd, no statd), and the kernel mount of a share.
 *
 * The NFS v4 namespace is a tmpfs of its own, {@link NFS_ROOT} in the node's root, exported as the
 * v4 root (`fsid=0`): each export directory is bound into it at its export path, so clients mount
 * `<vip>:<export path>` and the composed root's overlay (which nfsd cannot export) is never walked.
 * Each export line carries `fsid=<storage id>`, so file handles survive a reboot and tmpfs or NFS
 * re-exports are exportable at all. Without `crossmnt`, a client sees only the exports it is granted
 * (another export's mount point is an empty directory to it).
 */
import { isIP } from "node:net";
import type { NfsExport, NfsMount } from "@powernode/proto";

/** The nfs-server module's programs, inside the composed root. */
export const RPC_NFSD = "/usr/sbin/rpc.nfsd";
export const RPC_MOUNTD = "/usr/sbin/rpc.mountd";
export const EXPORTFS = "/usr/sbin/exportfs";
export const EXPORTS_FILE = "/etc/exports";
/** The NFS v4 root, in the node's root (a tmpfs). */
export const NFS_ROOT = "/run/powernode/nfs4";
const ROOT_OPTIONS = "ro,fsid=0,no_subtree_check,root_squash";

/** nfsd threads (each is a kernel thread; a handful serve a small fleet). */
export const NFSD_THREADS = 8;
/**
 * NFS v4 lease and grace time in seconds (kernel default 90 each). Short so that clients resume
 * within seconds of a server reboot; clients renew their lease every third of it.
 */
export const NFSD_LEASE_SECONDS = 15;
export const NFSD_GRACE_SECONDS = 15;

const PATH_RE = /^\/[A-Za-z0-9._/-]{0,254}$/;
const OPTIONS_RE = /^[a-z0-9_]+(=[A-Za-z0-9._:-]+)?(,[a-z0-9_]+(=[A-Za-z0-9._:-]+)?)*$/;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** An absolute path without `..`, spaces or metacharacters (what the hub accepts); throws naming `what`. */
export function safePath(what: string, p: string): string {
  if (!PATH_RE.test(p) || p.split("/").includes("..") || p === "/")
    throw new Error(
      `${what}: ${JSON.stringify(p.slice(0, 100))} is not an absolute path of A-Z a-z 0-9 . _ - /`,
    );
  return p.replace(/\/+$/, "");
}

function safeOptions(what: string, o: string): string {
  if (o !== "" && (o.length > 256 || !OPTIONS_RE.test(o)))
    throw new Error(`${what}: ${JSON.stringify(o.slice(0, 100))} is not a list of a,b=c options`);
  return o;
}

/** The export line of one export: every client's overlay address with its options and the fsid. */
export function exportLine(e: NfsExport): string {
  const path = safePath(`exports[${e.name}].export_path`, e.exportPath);
  if (!UUID_RE.test(e.storageId)) throw new Error(`exports[${e.name}].storage_id: not a uuid`);
  const clients = e.clients.map((c) => {
    clientAddress(e.name, c.address);
    const opts = safeOptions(
      `exports[${e.name}] options`,
      c.options || "rw,sync,no_subtree_check,root_squash",
    );
    return `${c.address}(${opts},fsid=${e.storageId})`;
  });
  return `${NFS_ROOT}${path} ${clients.join(" ")}`;
}

function clientAddress(name: string, address: string): string {
  if (isIP(address) === 0)
    throw new Error(`exports[${name}]: client ${JSON.stringify(address)} is not an address`);
  return address;
}

/**
 * `/etc/exports`: a header, the v4 root for every client of any export (read-only, nothing in it but
 * the mount points), then one line per export that has clients (none: nobody may mount it).
 */
export function exportsFile(exports: readonly NfsExport[]): string {
  const served = exports.filter((e) => e.clients.length > 0);
  const lines = served.map(exportLine);
  const clients = [
    ...new Set(served.flatMap((e) => e.clients.map((c) => clientAddress(e.name, c.address)))),
  ].sort();
  const root =
    clients.length > 0 ? [`${NFS_ROOT} ${clients.map((c) => `${c}(${ROOT_OPTIONS})`).join(" ")}`] : [];
  return [
    "# written by the powernode agent from the hub's storage section; edits are replaced",
    ...root,
    ...lines,
    "",
  ].join("\n");
}

/** Starts the kernel server, v4.1 and v4.2 only, with short lease and grace times. */
export function rpcNfsdArgv(threads = NFSD_THREADS): string[] {
  return [
    RPC_NFSD,
    "--no-nfs-version",
    "3",
    "--no-nfs-version",
    "4.0",
    "--no-udp",
    // The port as a number: the node's root has no /etc/services to look "nfs" up in.
    "--port",
    "2049",
    "--lease-time",
    String(NFSD_LEASE_SECONDS),
    "--grace-time",
    String(NFSD_GRACE_SECONDS),
    String(threads),
  ];
}

/** Stops the kernel server's threads (the exports stay in the file). */
export const rpcNfsdStopArgv = (): string[] => [RPC_NFSD, "0"];

/** mountd answers the kernel's export upcalls (v4 needs no MOUNT protocol, so no rpcbind either). */
export function rpcMountdArgv(): string[] {
  return [RPC_MOUNTD, "--foreground", "--no-nfs-version", "2", "--no-nfs-version", "3", "--no-udp"];
}

/** Re-reads /etc/exports into the kernel's export table (adds, changes and removes). */
export const exportfsArgv = (): string[] => [EXPORTFS, "-r"];

/**
 * The fsid an NFS client sees for the export of storage `id` (`fsid=<id>`: nfsd sends the uuid's 16
 * bytes, the client reads two big-endian 64-bit halves), as /proc/fs/nfsfs/volumes prints it
 * (`%llx:%llx`). The v4 root (`fsid=0`) shows as `0:0`.
 */
export function exportFsid(id: string): string {
  if (!UUID_RE.test(id)) throw new Error(`storage_id: ${JSON.stringify(id.slice(0, 60))} is not a uuid`);
  const hex = id.replaceAll("-", "");
  return `${BigInt(`0x${hex.slice(0, 16)}`).toString(16)}:${BigInt(`0x${hex.slice(16)}`).toString(16)}`;
}

/** The fsid of the NFS v4 root as a client sees it. */
export const NFS_ROOT_FSID = "0:0";

/** `[fd00::5]:/srv/x` or `10.0.0.5:/srv/x` -> address and path; throws naming the field. */
export function parseNfsSource(what: string, source: string): { address: string; path: string } {
  const m = /^\[([0-9A-Fa-f:.]+)\]:(\/.*)$/.exec(source) ?? /^([0-9.]+):(\/.*)$/.exec(source);
  if (!m || isIP(m[1] as string) === 0)
    throw new Error(`${what}: ${JSON.stringify(source.slice(0, 100))} is not [address]:/path or ipv4:/path`);
  return { address: m[1] as string, path: safePath(what, m[2] as string) };
}

/** The kernel mount of a share: `nfs4`, its source, and options with `addr=` (the kernel resolves no names). */
export function nfsMountSpec(
  what: string,
  m: Pick<NfsMount, "source" | "options">,
): { fstype: "nfs4"; source: string; options: string } {
  const { address, path } = parseNfsSource(`${what}.source`, m.source);
  const given = safeOptions(`${what}.options`, m.options || "vers=4.2,proto=tcp,hard")
    .split(",")
    .filter((o) => o !== "" && !o.startsWith("addr="));
  const v6 = address.includes(":");
  // The kernel refuses proto=tcp with an IPv6 server address (EINVAL): it wants tcp6.
  const options = given.map((o) => (v6 && o === "proto=tcp" ? "proto=tcp6" : o));
  const source = `${v6 ? `[${address}]` : address}:${path}`;
  return { fstype: "nfs4", source, options: [...options, `addr=${address}`].join(",") };
}
