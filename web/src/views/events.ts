/**
 * Events: the fleet timeline, newest first, with severity as colour and word; filters by kind prefix,
 * minimum severity, node and correlation id (kept in the URL hash, never the token); follow mode adds
 * live events as they come, paused it keeps the list still.
 */

import type { FleetEvent } from "@powernode/proto/browser";
import { Severity } from "@powernode/proto/browser";
import { errorText } from "../api.ts";
import { h } from "../dom.ts";
import { clock, dateOf, severityName } from "../format.ts";
import type { Ctx, View } from "../view.ts";
import { badge, note } from "../widgets.ts";

const SEVERITIES = [Severity.INFO, Severity.WARN, Severity.ERROR, Severity.CRITICAL];
const MAX_ROWS = 500;

function matches(e: FleetEvent, f: Filters): boolean {
  return (
    (!f.kind || e.kind.startsWith(f.kind)) &&
    (!f.node || e.nodeId === f.node) &&
    (!f.correlation || e.correlationId === f.correlation) &&
    (f.severity === Severity.UNSPECIFIED || e.severity >= f.severity)
  );
}

interface Filters {
  kind: string;
  node: string;
  correlation: string;
  severity: Severity;
}

function row(e: FleetEvent): HTMLElement {
  const sev = severityName(e.severity);
  return h(
    "li",
    { class: `event sev-${sev}`, "data-event-id": e.id, "data-kind": e.kind },
    h("time", { datetime: dateOf(e.createdAt)?.toISOString() ?? "" }, clock(dateOf(e.createdAt))),
    badge("severity", sev),
    h("span", { class: "kind" }, e.kind),
    e.nodeId
      ? h("a", { href: `#/node/${e.nodeId}`, class: "node-link" }, e.nodeId.slice(0, 8))
      : h("span", {}, "hub"),
    e.correlationId
      ? h("code", { class: "corr", title: "correlation id" }, e.correlationId.slice(0, 12))
      : null,
    h("code", { class: "payload" }, JSON.stringify(e.payload ?? {})),
  );
}

export function eventsView(ctx: Ctx, params: URLSearchParams): View {
  const field = (id: string, label: string, value: string, placeholder: string) => {
    const input = h("input", { id, type: "text", value, placeholder, "data-action": id });
    return { input, label: h("label", { for: id }, label) };
  };
  const kind = field("ev-kind", "Kind prefix", params.get("kind") ?? "", "system.agent.");
  const node = field("ev-node", "Node id", params.get("node") ?? "", "uuid");
  const corr = field("ev-corr", "Correlation id", params.get("correlation") ?? "", "");
  const severity = h(
    "select",
    { id: "ev-sev", "data-action": "ev-sev" },
    h("option", { value: "0" }, "any"),
    SEVERITIES.map((s) => h("option", { value: String(s) }, `${severityName(s)} and above`)),
  );
  severity.value = params.get("severity") ?? "0";
  const follow = h("input", { id: "ev-follow", type: "checkbox", checked: true, "data-action": "follow" });
  const apply = h("button", { type: "submit", "data-action": "apply-filters" }, "Apply");
  const list = h("ol", { class: "events", "aria-label": "events, newest first", reversed: true });
  const problem = h("div", { role: "status" });
  const followState = h("span", { class: "follow-state" }, "following");
  const form = h(
    "form",
    { class: "filters", role: "search" },
    kind.label,
    kind.input,
    h("label", { for: "ev-sev" }, "Severity"),
    severity,
    node.label,
    node.input,
    corr.label,
    corr.input,
    apply,
    h("label", { for: "ev-follow", class: "check" }, follow, " Follow"),
    followState,
  );
  const el = h("div", { class: "view events-view" }, h("h1", {}, "Events"), form, problem, list);

  const filters = (): Filters => ({
    kind: kind.input.value.trim(),
    node: node.input.value.trim().toLowerCase(),
    correlation: corr.input.value.trim(),
    severity: Number(severity.value) as Severity,
  });

  /** Live events that came while a page was loading: added back on top unless the page had them. */
  let during: FleetEvent[] | undefined;
  const load = async () => {
    const f = filters();
    problem.replaceChildren();
    during = [];
    list.removeAttribute("data-loaded");
    try {
      const r = await ctx.api.fleet.listEvents({
        kindPrefix: f.kind,
        nodeId: f.node,
        correlationId: f.correlation,
        minSeverity: f.severity,
        limit: 200,
      });
      const ids = new Set(r.events.map((e) => e.id));
      const late = (during ?? []).filter((e) => !ids.has(e.id));
      list.replaceChildren(...late.reverse().map(row), ...r.events.slice().reverse().map(row));
      if (list.children.length === 0) problem.replaceChildren(note("No event matches."));
    } catch (err) {
      problem.replaceChildren(note(`Could not load events: ${errorText(err)}`, "error"));
    }
    during = undefined;
    list.setAttribute("data-loaded", "1");
  };

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams();
    const f = filters();
    if (f.kind) q.set("kind", f.kind);
    if (f.node) q.set("node", f.node);
    if (f.correlation) q.set("correlation", f.correlation);
    if (f.severity) q.set("severity", String(f.severity));
    history.replaceState(null, "", `#/events${q.size ? `?${q}` : ""}`);
    void load();
  });
  follow.addEventListener("change", () => {
    followState.textContent = follow.checked ? "following" : "paused";
  });
  ctx.onEvent((e) => {
    if (!follow.checked || !matches(e, filters())) return;
    if (during) {
      during.push(e);
      return;
    }
    problem.replaceChildren();
    list.prepend(row(e));
    while (list.children.length > MAX_ROWS) list.lastElementChild?.remove();
  });
  void load();
  return { title: "Events", el };
}
