import { expect, test } from "bun:test";
import { nfsFirewallRuleset, nftApplyArgv, nftDeleteArgv } from "./nfs-firewall.ts";

test("the NFS firewall admits the export lines' clients, by family, sorted, and resets the rest (golden)", () => {
  expect(nfsFirewallRuleset(["fd12::c", "10.0.0.7", "fd12::b", "fd12::c"])).toBe(
    [
      "# written by the powernode agent: NFS only from the clients of this node's exports",
      "table inet powernode_nfs {}",
      "delete table inet powernode_nfs",
      "table inet powernode_nfs {",
      "  set clients4 {",
      "    type ipv4_addr",
      "    elements = { 10.0.0.7 }",
      "  }",
      "  set clients6 {",
      "    type ipv6_addr",
      "    elements = { fd12::b, fd12::c }",
      "  }",
      "  chain input {",
      "    type filter hook input priority filter; policy accept;",
      "    tcp dport 2049 ip saddr @clients4 accept",
      "    tcp dport 2049 ip6 saddr @clients6 accept",
      "    tcp dport 2049 counter reject with tcp reset",
      "  }",
      "}",
      "",
    ].join("\n"),
  );
});

test("no clients: empty sets (nft refuses an empty elements list), everyone reset", () => {
  const r = nfsFirewallRuleset([]);
  expect(r).not.toContain("elements");
  expect(r).toContain("tcp dport 2049 counter reject with tcp reset");
});

test("anything but an address is refused, naming it", () => {
  expect(() => nfsFirewallRuleset(["fd12::b", "fd12::/64"])).toThrow(
    'firewall: "fd12::/64" is not an address',
  );
  expect(() => nfsFirewallRuleset(["1.2.3.4 } accept"])).toThrow("is not an address");
});

test("nft argv", () => {
  expect(nftApplyArgv("/run/x.nft")).toEqual(["/usr/sbin/nft", "-f", "/run/x.nft"]);
  expect(nftDeleteArgv()).toEqual(["/usr/sbin/nft", "delete", "table", "inet", "powernode_nfs"]);
});
