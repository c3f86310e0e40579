/**
 * Network: every overlay network (the WireGuard mesh) as a graph of its members, an edge per peer a
 * member reports, labelled with the handshake age; the same as a table (the graph is never the only
 * carrier). Reloaded every 10 s and on mesh events.
 */
import type { MeshMemberHealth, Network } from "@powernode/proto/browser";
import { errorText } from "../api.ts";
import { h, s } from "../dom.ts";
import { duration } from "../format.ts";
import type { Ctx, View } from "../view.ts";
import { badge, note, section, table } from "../widgets.ts";

const SIZE = 360;
/** A handshake older than this (or none) is a peer in trouble (WireGuard rekeys every 2 min). */
const STALE_SECONDS = 180;

function peerState(up: boolean, ageSeconds: bigint): "ok" | "degraded" | "failed" {
  if (!up || ageSeconds < 0n) return "failed";
  return ageSeconds > BigInt(STALE_SECONDS) ? "degraded" : "ok";
}

const handshake = (a: bigint) => (a < 0n ? "never" : `${duration(Number(a))} ago`);

function graph(net: Network, members: readonly MeshMemberHealth[]): SVGElement {
  const c = SIZE / 2;
  const r = SIZE / 2 - 50;
  const pos = new Map(
    members.map((m, i) => {
      const a = (2 * Math.PI * i) / Math.max(1, members.length) - Math.PI / 2;
      return [m.nodeId, { x: c + r * Math.cos(a), y: c + r * Math.sin(a) }] as const;
    }),
  );
  const edges = members.flatMap((m) =>
    m.peers.flatMap((p) => {
      const a = pos.get(m.nodeId);
      const b = pos.get(p.nodeId);
      if (!a || !b || m.nodeId > p.nodeId) return [];
      const st = peerState(p.up, p.handshakeAgeSeconds);
      return [
        s(
          "g",
          { class: `edge edge-${st}` },
          s("line", { x1: a.x, y1: a.y, x2: b.x, y2: b.y }),
          s(
            "text",
            { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 - 4, class: "edge-label" },
            `${st}: ${handshake(p.handshakeAgeSeconds)}`,
          ),
        ),
      ];
    }),
  );
  const dots = members.map((m) => {
    const p = pos.get(m.nodeId) ?? { x: c, y: c };
    return s(
      "g",
      { class: `member${m.problem ? " member-problem" : ""}` },
      s("circle", { cx: p.x, cy: p.y, r: 10 }),
      s("text", { x: p.x, y: p.y + 26, class: "member-label" }, m.nodeName || m.nodeId.slice(0, 8)),
    );
  });
  return s(
    "svg",
    {
      viewBox: `0 0 ${SIZE} ${SIZE}`,
      width: SIZE,
      height: SIZE,
      role: "img",
      "aria-label": `mesh of ${net.name}`,
    },
    edges,
    dots,
  );
}

export function networkView(ctx: Ctx): View {
  const body = h("div", {}, note("Loading…"));
  const el = h("div", { class: "view network" }, h("h1", {}, "Network"), body);
  const load = async () => {
    try {
      const { networks } = await ctx.api.network.listNetworks({});
      const healths = await Promise.all(
        networks.map((n) => ctx.api.network.getMeshHealth({ network: n.name })),
      );
      if (networks.length === 0) {
        body.replaceChildren(note("No overlay network. `pnctl net create NAME` makes one."));
        return;
      }
      body.replaceChildren(
        ...networks.map((n, i) => {
          const hl = healths[i];
          const members = hl?.members ?? [];
          return section(
            `${n.name} (${n.prefix})`,
            h(
              "p",
              {},
              badge("cond", hl?.fullMesh ? "ok" : "degraded"),
              hl?.fullMesh ? " full mesh" : " not a full mesh yet",
            ),
            h("div", { class: "graph" }, graph(n, members)),
            table(
              ["member", "address", "peer", "handshake", "state", "problem"],
              members.flatMap((m) =>
                (m.peers.length > 0 ? m.peers : [undefined]).map((p) => [
                  m.nodeName || m.nodeId,
                  m.address,
                  p ? members.find((x) => x.nodeId === p.nodeId)?.nodeName || p.nodeId : "—",
                  p ? handshake(p.handshakeAgeSeconds) : "—",
                  p ? badge("cond", peerState(p.up, p.handshakeAgeSeconds)) : "—",
                  m.problem || "",
                ]),
              ),
              `peers of ${n.name}`,
            ),
          );
        }),
      );
    } catch (err) {
      body.replaceChildren(note(`Could not load networks: ${errorText(err)}`, "error"));
    }
  };
  let tick = 0;
  ctx.everySecond(() => {
    if (++tick % 10 === 0) void load();
  });
  void load();
  return { title: "Network", el };
}
