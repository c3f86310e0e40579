/**
 * Fleet: every node with state, arch, agent version, uptime, heartbeat age and attestation; counts by
 * state; a state filter and a search box; on PostgreSQL, the cluster members' replication lag. Live:
 * reloaded on node events and every 10 s (heartbeats are not events); ages tick every second.
 */
import type { Node as FleetNode } from "@powernode/proto/browser";
import { NodeState } from "@powernode/proto/browser";
import { errorText } from "../api.ts";
import { ATTESTATION_PREFIXES, type AttestationStatus, foldAttestation } from "../derive.ts";
import { h, replaceKeepingFocus } from "../dom.ts";
import { age, archName, dateOf, duration, stateName } from "../format.ts";
import type { Ctx, View } from "../view.ts";
import { badge, liveText, note, refreshLive, table } from "../widgets.ts";
import { clusterMembers } from "./cluster-members.ts";

const STATES = [
  NodeState.PENDING,
  NodeState.STARTING,
  NodeState.RUNNING,
  NodeState.DEGRADED,
  NodeState.STOPPED,
];

async function allNodes(ctx: Ctx): Promise<FleetNode[]> {
  const out: FleetNode[] = [];
  let pageToken = "";
  do {
    const r = await ctx.api.fleet.listNodes({ pageSize: 500, pageToken });
    out.push(...r.nodes);
    pageToken = r.nextPageToken;
  } while (pageToken && out.length < 5000);
  return out;
}

export function fleetView(ctx: Ctx, params: URLSearchParams): View {
  let nodes: FleetNode[] = [];
  const attestation = new Map<string, { status: AttestationStatus; at?: Date }>();
  let problem = "";
  const search = h("input", {
    id: "fleet-search",
    type: "search",
    placeholder: "name or id",
    value: params.get("q") ?? "",
    "data-action": "search",
  });
  const stateFilter = h(
    "select",
    { id: "fleet-state", "data-action": "state-filter" },
    h("option", { value: "" }, "all states"),
    STATES.map((s) => h("option", { value: stateName(s) }, stateName(s))),
  );
  stateFilter.value = params.get("state") ?? "";
  const counts = h("ul", { class: "counts", "aria-label": "nodes by state" });
  const members = clusterMembers(ctx);
  const body = h("div", { class: "fleet-table" });
  const el = h(
    "div",
    { class: "view fleet" },
    h("h1", {}, "Fleet"),
    counts,
    h(
      "div",
      { class: "filters", role: "search" },
      h("label", { for: "fleet-search" }, "Search"),
      search,
      h("label", { for: "fleet-state" }, "State"),
      stateFilter,
    ),
    body,
    members.el,
  );

  const render = () => {
    const byState = new Map<string, number>();
    for (const n of nodes) byState.set(stateName(n.state), (byState.get(stateName(n.state)) ?? 0) + 1);
    counts.replaceChildren(
      h("li", { "data-count": "total" }, `${nodes.length} nodes`),
      ...STATES.map((s) =>
        h(
          "li",
          { "data-count": stateName(s) },
          badge("state", stateName(s)),
          `: ${byState.get(stateName(s)) ?? 0}`,
        ),
      ),
    );
    const q = search.value.trim().toLowerCase();
    const want = stateFilter.value;
    const shown = nodes.filter(
      (n) =>
        (!want || stateName(n.state) === want) &&
        (!q || n.name.toLowerCase().includes(q) || n.id.includes(q)),
    );
    const rows = shown.map((n) => [
      h("a", { href: `#/node/${n.id}`, "data-key": `node-${n.id}`, "data-node": n.id }, n.name || n.id),
      badge("state", stateName(n.state)),
      archName(n.arch),
      n.agentVersion || "—",
      n.uptimeSeconds > 0 ? duration(n.uptimeSeconds) : "—",
      liveText(() => age(dateOf(n.lastHeartbeatAt), ctx.now())),
      badge("attestation", attestation.get(n.id)?.status ?? "none"),
    ]);
    replaceKeepingFocus(
      body,
      problem ? note(problem, "error") : null,
      shown.length === 0
        ? note(nodes.length === 0 ? "No nodes yet." : "No node matches the filter.")
        : table(["node", "state", "arch", "agent", "uptime", "last heartbeat", "attestation"], rows, "nodes"),
    );
  };

  let loading: Promise<void> | undefined;
  let again = false;
  const load = async () => {
    if (loading) {
      again = true;
      return;
    }
    loading = (async () => {
      try {
        nodes = await allNodes(ctx);
        problem = "";
      } catch (err) {
        problem = `Could not load nodes: ${errorText(err)}`;
      }
      render();
      await members.load();
    })();
    await loading;
    loading = undefined;
    if (again) {
      again = false;
      void load();
    }
  };
  const loadAttestation = async () => {
    for (const kindPrefix of ATTESTATION_PREFIXES) {
      const r = await ctx.api.fleet.listEvents({ kindPrefix, limit: 1000 });
      foldAttestation(attestation, r.events);
    }
  };

  search.addEventListener("input", render);
  stateFilter.addEventListener("change", render);
  ctx.onEvent((e) => {
    if (!e.nodeId) return;
    foldAttestation(attestation, [e]);
    void load();
  });
  let tick = 0;
  ctx.everySecond(() => {
    refreshLive(body);
    if (++tick % 10 === 0) void load();
  });
  void loadAttestation()
    .catch((err) => {
      problem = `Could not load attestation events: ${errorText(err)}`;
    })
    .then(load);
  return { title: "Fleet", el };
}
