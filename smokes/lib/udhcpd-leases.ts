/**
 * busybox udhcpd's lease file, read purely: an 8-byte big-endian write time, then one 36-byte record
 * per lease (seconds left, big-endian; IPv4 address; 6-byte MAC; 20-byte NUL-padded hostname; 2 pad).
 */

/** One lease udhcpd handed out. */
export interface DhcpLease {
  /** Lower-case `52:54:00:..`. */
  mac: string;
  address: string;
  /** The client's DHCP hostname option, "" when it sent none. */
  hostname: string;
  /** Seconds left when the file was written. */
  secondsLeft: number;
  /** When the file was written (seconds since the epoch). */
  writtenAt: number;
}

const HEADER = 8;
const RECORD = 36;

/**
 * Parses a lease file's bytes. An empty file (udhcpd not yet written) has no leases; a partial record
 * at the end (read during a rewrite) is left out.
 */
export function parseUdhcpdLeases(buf: Uint8Array): DhcpLease[] {
  if (buf.length === 0) return [];
  if (buf.length < HEADER)
    throw new Error(`udhcpd lease file: ${buf.length} bytes, shorter than its 8-byte header`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const writtenAt = Number(view.getBigInt64(0, false));
  const leases: DhcpLease[] = [];
  for (let at = HEADER; at + RECORD <= buf.length; at += RECORD) {
    const mac = Array.from(buf.subarray(at + 8, at + 14), (b) => b.toString(16).padStart(2, "0")).join(":");
    const name = buf.subarray(at + 14, at + 34);
    const end = name.indexOf(0);
    leases.push({
      mac,
      address: Array.from(buf.subarray(at + 4, at + 8)).join("."),
      hostname: new TextDecoder().decode(end < 0 ? name : name.subarray(0, end)),
      secondsLeft: view.getUint32(at, false),
      writtenAt,
    });
  }
  return leases;
}
