/**
 * Pass 4: federation. Two hubs peer over mutual TLS; a cluster member replicates a hub's PostgreSQL and
 * takes over when the parent is lost; the full tier puts a hub on a QEMU node.
 *
 *   bun smokes/pass4.ts --tier db|full
 *
 * db: two real hubs in this process, each on its own database (PGlite) and CA. Hub A proposes a
 *     peering with B (pnctl), B's operator accepts the token (pnctl): both rows active, each hub holds
 *     the other's CA and a peer-hub certificate from it. B reads A's fleet summary and catalog through
 *     its operator API (B calls A over mutual TLS), and a direct call to A with B's peer certificate
 *     succeeds; then A revokes B and the same call is refused (B is told and marks A revoked). Acceptance
 *     tokens: reused AlreadyExists, expired FailedPrecondition, foreign Unauthenticated (three distinct
 *     codes), a token whose CA pin does not match the hub at its URL PermissionDenied. No certificate,
 *     and a node certificate of A, cannot call peer-hub methods; B's peer certificate cannot call node
 *     or operator methods. Then the cluster member on two real PostgreSQL servers
 *     (smokes/pass4/cluster-member.ts): slot, pg_basebackup, synchronous streaming with lag under a write
 *     load, read-only member, parent stopped, promotion, a node continuing on the member's hub.
 * full: the db tier, then a hub on a QEMU node from the `powernode-hub` template (PostgreSQL and the
 *     compiled hub as module services on a persistent node) that enrolls a QEMU node of its own and
 *     federates with this process's hub over mutual TLS (smokes/pass4/hub-on-node.ts). Below --tier
 *     full it prints `skipped (needs --tier full)`.
 */
import { Code, type ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { FederationService, FleetService, NodeService, PeerState } from "@powernode/proto";
import { eq } from "drizzle-orm";
import { hashToken } from "../hub/src/auth/tokens.ts";
import { cliFor } from "../hub/src/cli/test-cli.ts";
import { federationPeers } from "../hub/src/db/schema/index.ts";
import { peerKeyContext } from "../hub/src/federation/index.ts";
import { pinnedClient } from "../hub/src/federation/peer-client.ts";
import { caFingerprint } from "../hub/src/federation/token.ts";
import type { RunningHub } from "../hub/src/hub.ts";
import { bearer, enrollTestNode, nodeTransport } from "../hub/test/harness.ts";
import { startSmokeHub } from "./lib/hub.ts";
import { definePass, runPass } from "./lib/pass.ts";
import { refusal } from "./lib/refusal.ts";
import { runClusterMember } from "./pass4/cluster-member.ts";
import { runHubOnNode } from "./pass4/hub-on-node.ts";

function federation(hub: RunningHub) {
  const transport = createConnectTransport({
    baseUrl: hub.httpUrl,
    httpVersion: "1.1",
    interceptors: [bearer(hub.adminToken)],
    nodeOptions: { ca: hub.caPem },
  });
  return createClient(FederationService, transport);
}

const codeOf = (e: ConnectError) => Code[e.code] ?? String(e.code);

function expectCode(e: ConnectError, want: Code, what: string): string {
  if (e.code !== want) throw new Error(`${what}: got ${codeOf(e)} (${e.rawMessage}), want ${Code[want]}`);
  return `${Code[want]}: ${e.rawMessage.slice(0, 90)}`;
}

/** This hub's peer-hub certificate and key for `name` (what it presents when it calls that peer). */
async function peerCertOf(hub: RunningHub, name: string) {
  const [row] = await hub.deps.db.select().from(federationPeers).where(eq(federationPeers.name, name));
  if (!row?.clientCertPem || !row.clientKeyPem) throw new Error(`${name}: no client certificate on this hub`);
  return { certPem: row.clientCertPem, keyPem: hub.deps.keys.open(row.clientKeyPem, peerKeyContext(row.id)) };
}

export const pass4 = definePass({
  id: 4,
  title: "federation: two hubs peer over mutual TLS (propose, accept, call, revoke)",
  minTier: "db",
  async run(t) {
    const a = await t.step("start hub A", () => startSmokeHub(t, { nodeHost: "127.0.0.1" }));
    const b = await t.step("start hub B", () => startSmokeHub(t, { nodeHost: "127.0.0.1" }));
    const fedA = federation(a.hub);
    const fedB = federation(b.hub);
    const pnctlA = cliFor(() => a.hub);
    const pnctlB = cliFor(() => b.hub);
    const node = await t.step("a node enrolls on hub A", () => enrollTestNode(a.hub, "fed-node-1"));

    // Propose (A) -> accept (B), through pnctl.
    const proposed = await pnctlA(
      "federation",
      "propose",
      "hub-b",
      b.hub.mtlsUrl,
      "--local-url",
      a.hub.mtlsUrl,
      "--json",
    );
    const token = (JSON.parse(proposed.out || "{}") as { acceptanceToken?: string }).acceptanceToken ?? "";
    await t.check("propose: a pnf1 token, stored only as its SHA-256, 7 days", async () => {
      if (proposed.code !== 0)
        throw new Error(`pnctl federation propose -> ${proposed.code}: ${proposed.err}`);
      if (!token.startsWith("pnf1.")) throw new Error(`token ${token.slice(0, 10)}...: not pnf1`);
      const [row] = await a.hub.deps.db
        .select()
        .from(federationPeers)
        .where(eq(federationPeers.name, "hub-b"));
      if (row?.tokenHash !== hashToken(token)) throw new Error("stored hash is not sha256(token)");
      if (JSON.stringify(row).includes(token.split(".")[2] ?? "?")) throw new Error("the secret is stored");
      const days = ((row.tokenExpiresAt?.getTime() ?? 0) - row.createdAt.getTime()) / 86_400_000;
      if (Math.abs(days - 7) > 0.01) throw new Error(`expires in ${days} days`);
      return `state ${row.state}, expires in ${days.toFixed(2)} days`;
    });
    const accepted = await cliFor(() => b.hub, { POWERNODE_FEDERATION_TOKEN: token })(
      "federation",
      "accept",
      "--name",
      "hub-a",
      "--local-url",
      b.hub.mtlsUrl,
      "--json",
    );
    await t.check("accept: both peers active, each holds the other's CA fingerprint", async () => {
      if (accepted.code !== 0)
        throw new Error(`pnctl federation accept -> ${accepted.code}: ${accepted.err}`);
      const onA = (await fedA.getPeer({ peer: "hub-b" })).peer;
      const onB = (await fedB.getPeer({ peer: "hub-a" })).peer;
      if (onA?.state !== PeerState.ACTIVE || onB?.state !== PeerState.ACTIVE)
        throw new Error(`states A:${onA?.state} B:${onB?.state}, want active`);
      if (onA.remoteCaSha256 !== caFingerprint(b.hub.caPem)) throw new Error("A does not hold B's CA");
      if (onB.remoteCaSha256 !== caFingerprint(a.hub.caPem)) throw new Error("B does not hold A's CA");
      return `A: ${onA.name} active (issued ${onA.issuedSerial.slice(0, 8)}...), B: ${onB.name} active`;
    });
    await t.check("events: proposed and accepted on A, accepted on B", async () => {
      const list = async (fleet: typeof a.fleet) =>
        (await fleet.listEvents({ kindPrefix: "system.federation.", limit: 50 })).events.map((e) => e.kind);
      const onA = await list(a.fleet);
      const onB = await list(b.fleet);
      for (const k of ["system.federation.peer.proposed", "system.federation.peer.accepted"])
        if (!onA.includes(k)) throw new Error(`A lacks ${k} (has ${onA.join(", ")})`);
      if (!onB.includes("system.federation.peer.accepted"))
        throw new Error(`B lacks accepted (${onB.join(", ")})`);
      return `A: ${onA.join(", ")}; B: ${onB.join(", ")}`;
    });

    // B reads A over mutual TLS.
    await t.check("B reads A's fleet summary over mTLS (pnctl federation fleet): counts only", async () => {
      const r = await pnctlB("federation", "fleet", "hub-a", "--json");
      if (r.code !== 0) throw new Error(`pnctl federation fleet -> ${r.code}: ${r.err}`);
      const s = JSON.parse(r.out) as { nodesTotal: number; nodesByState: Record<string, number> };
      if (s.nodesTotal !== 1) throw new Error(`nodesTotal ${s.nodesTotal}, want 1`);
      if (r.out.includes(node.id)) throw new Error("the summary names a node id");
      return `nodesTotal ${s.nodesTotal}, by state ${JSON.stringify(s.nodesByState)}`;
    });
    await t.check("B reads A's catalog over mTLS (pnctl federation catalog)", async () => {
      const r = await pnctlB("federation", "catalog", "hub-a", "--json");
      if (r.code !== 0) throw new Error(`pnctl federation catalog -> ${r.code}: ${r.err}`);
      return `${(JSON.parse(r.out) as unknown[]).length} entries`;
    });
    const bCert = await t.step("B's peer-hub certificate for A", () => peerCertOf(b.hub, "hub-a"));
    const asB = pinnedClient(a.hub.mtlsUrl, a.hub.caPem, bCert);
    await t.check("a direct call to A with B's peer certificate succeeds", async () => {
      const r = await asB.getFleetSummary({});
      return `GetFleetSummary: nodesTotal ${r.summary?.nodesTotal}`;
    });

    // Who cannot call peer-hub methods, and what the peer certificate cannot call.
    await t.check("no client certificate: peer-hub method refused", async () =>
      expectCode(
        await refusal(pinnedClient(a.hub.mtlsUrl, a.hub.caPem).getFleetSummary({})),
        Code.Unauthenticated,
        "anonymous",
      ),
    );
    await t.check("a node certificate of A: peer-hub method refused", async () =>
      expectCode(
        await refusal(pinnedClient(a.hub.mtlsUrl, a.hub.caPem, node).getFleetSummary({})),
        Code.PermissionDenied,
        "node certificate",
      ),
    );
    await t.check("B's peer certificate: node and operator methods refused", async () => {
      const n = await refusal(
        createClient(NodeService, nodeTransport(a.hub, bCert)).heartbeat({
          bootId: "x",
          agentVersion: "peer",
        }),
      );
      const o = await refusal(createClient(FleetService, nodeTransport(a.hub, bCert)).listNodes({}));
      if (n.code !== Code.Unauthenticated && n.code !== Code.PermissionDenied)
        throw new Error(`Heartbeat: ${codeOf(n)}`);
      if (o.code !== Code.Unauthenticated) throw new Error(`ListNodes: ${codeOf(o)}`);
      return `Heartbeat ${codeOf(n)}, ListNodes ${codeOf(o)}`;
    });

    // Tokens: reused, expired, foreign, mis-pinned.
    const codes = new Map<string, string>();
    await t.check("reused token refused: AlreadyExists", async () => {
      const viaB = await refusal(fedB.acceptPeering({ token, name: "hub-a-again", localUrl: b.hub.mtlsUrl }));
      codes.set("reused", codeOf(viaB));
      return expectCode(viaB, Code.AlreadyExists, "reused");
    });
    await t.check("expired token refused: FailedPrecondition", async () => {
      const p = await fedA.proposePeering({
        name: "hub-late",
        remoteUrl: b.hub.mtlsUrl,
        localUrl: a.hub.mtlsUrl,
      });
      await a.hub.deps.db
        .update(federationPeers)
        .set({ tokenExpiresAt: new Date(Date.now() - 1000) })
        .where(eq(federationPeers.name, "hub-late"));
      const e = await refusal(
        fedB.acceptPeering({ token: p.acceptanceToken, name: "late", localUrl: b.hub.mtlsUrl }),
      );
      codes.set("expired", codeOf(e));
      return expectCode(e, Code.FailedPrecondition, "expired");
    });
    await t.check("foreign token refused: Unauthenticated", async () => {
      // A token B issued, presented to A: A never issued it.
      const p = await fedB.proposePeering({
        name: "to-a",
        remoteUrl: a.hub.mtlsUrl,
        localUrl: b.hub.mtlsUrl,
      });
      const secret = p.acceptanceToken.split(".")[2];
      const forA = `pnf1.${Buffer.from(JSON.stringify({ u: a.hub.mtlsUrl, f: caFingerprint(a.hub.caPem) })).toString("base64url")}.${secret}`;
      const e = await refusal(fedB.acceptPeering({ token: forA, name: "foreign", localUrl: b.hub.mtlsUrl }));
      codes.set("foreign", codeOf(e));
      return expectCode(e, Code.Unauthenticated, "foreign");
    });
    await t.check("three distinct codes for reused, expired, foreign", () => {
      if (new Set(codes.values()).size !== 3) throw new Error(JSON.stringify(Object.fromEntries(codes)));
      return JSON.stringify(Object.fromEntries(codes));
    });
    await t.check("a token pinning another CA than the hub at its URL: PermissionDenied", async () => {
      const p = await fedA.proposePeering({
        name: "hub-pin",
        remoteUrl: b.hub.mtlsUrl,
        localUrl: a.hub.mtlsUrl,
      });
      const secret = p.acceptanceToken.split(".")[2];
      const wrong = `pnf1.${Buffer.from(JSON.stringify({ u: a.hub.mtlsUrl, f: caFingerprint(b.hub.caPem) })).toString("base64url")}.${secret}`;
      return expectCode(
        await refusal(fedB.acceptPeering({ token: wrong, name: "pin", localUrl: b.hub.mtlsUrl })),
        Code.PermissionDenied,
        "pin mismatch",
      );
    });

    // Revoke: the next call is refused.
    await t.check("revoke (pnctl, on A): B is told, the same call is refused", async () => {
      const r = await pnctlA("federation", "revoke", "hub-b", "--reason", "smoke", "--json");
      if (r.code !== 0) throw new Error(`pnctl federation revoke -> ${r.code}: ${r.err}`);
      const v = JSON.parse(r.out) as { state: string; peerNotified: boolean };
      if (v.state !== "revoked") throw new Error(`state ${v.state}`);
      const e = await refusal(asB.getFleetSummary({}));
      const onB = (await fedB.getPeer({ peer: "hub-a" })).peer;
      if (onB?.state !== PeerState.REVOKED) throw new Error(`B's row is ${onB?.state}, want revoked`);
      const own = await refusal(fedB.getPeerFleetSummary({ peer: "hub-a" }));
      expectCode(own, Code.FailedPrecondition, "B reading its revoked peer");
      return `${expectCode(e, Code.PermissionDenied, "after revoke")}; peer notified ${v.peerNotified}; B's own read ${codeOf(own)}`;
    });
    await t.check("events: revoked on A and on B", async () => {
      for (const [h, f] of [
        ["A", a.fleet],
        ["B", b.fleet],
      ] as const) {
        const kinds = (await f.listEvents({ kindPrefix: "system.federation.peer.revoked", limit: 10 }))
          .events;
        if (kinds.length === 0) throw new Error(`${h}: no system.federation.peer.revoked`);
      }
      return "both";
    });

    // The cluster member: two real PostgreSQL servers, streaming replication, promotion.
    await runClusterMember(t);

    // The full tier: a hub on a QEMU node (smokes/pass4/hub-on-node.ts).
    if (t.args.tier !== "full") {
      t.info("the hub on a QEMU node (powernode-hub template): skipped (needs --tier full)");
      return;
    }
    await runHubOnNode(t);
  },
});

if (import.meta.main) await runPass(pass4);
