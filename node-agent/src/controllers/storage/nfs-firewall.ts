/**
 * The export host's NFS firewall, as a pure function: an nftables table that admits NFS (2049/tcp) only
 * from the addresses that have an export line on this node, and answers everyone else with a TCP reset.
 * It guards every address of the node (the VIPs, its own overlay and underlay addresses), so the export
 * lines are a second check, not the only one. Replaced atomically: `nft -f` applies the file as one
 * transaction (the table is created if missing, deleted, and written again).
 */
import { isIP } from "node:net";

export const NFT = "/usr/sbin/nft";
export const FIREWALL_TABLE = "powernode_nfs";
export const NFS_PORT = 2049;

/** The ruleset admitting `sources` (IPv4 and IPv6 addresses) to NFS; throws on anything else. */
export function nfsFirewallRuleset(sources: readonly string[]): string {
  const v4: string[] = [];
  const v6: string[] = [];
  for (const a of [...new Set(sources)].sort()) {
    const family = isIP(a);
    if (family === 0) throw new Error(`firewall: ${JSON.stringify(a.slice(0, 60))} is not an address`);
    (family === 4 ? v4 : v6).push(a);
  }
  const set = (name: string, type: string, elements: string[]) => [
    `  set ${name} {`,
    `    type ${type}`,
    ...(elements.length > 0 ? [`    elements = { ${elements.join(", ")} }`] : []),
    "  }",
  ];
  return [
    "# written by the powernode agent: NFS only from the clients of this node's exports",
    `table inet ${FIREWALL_TABLE} {}`,
    `delete table inet ${FIREWALL_TABLE}`,
    `table inet ${FIREWALL_TABLE} {`,
    ...set("clients4", "ipv4_addr", v4),
    ...set("clients6", "ipv6_addr", v6),
    "  chain input {",
    "    type filter hook input priority filter; policy accept;",
    `    tcp dport ${NFS_PORT} ip saddr @clients4 accept`,
    `    tcp dport ${NFS_PORT} ip6 saddr @clients6 accept`,
    `    tcp dport ${NFS_PORT} counter reject with tcp reset`,
    "  }",
    "}",
    "",
  ].join("\n");
}

/** Applies a ruleset file. */
export const nftApplyArgv = (file: string): string[] => [NFT, "-f", file];

/** Removes the table (the server stopped). */
export const nftDeleteArgv = (): string[] => [NFT, "delete", "table", "inet", FIREWALL_TABLE];
