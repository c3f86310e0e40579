/**
 * Node: identity, certificate, the boot phase timeline, modules with digests and verification, every
 * controller's condition, recent events, and the actions (request attestation, assign modules, stop,
 * delete), each confirmed first. Live: reloaded when an event of this node arrives.
 */
import type {
  FleetEvent,
  Node as FleetNode,
  GetNodeModulesResponse,
  Instance,
} from "@powernode/proto/browser";
import { errorText } from "../api.ts";
import { confirmAction, promptValue } from "../confirm.ts";
import { latestConditions, phaseTimeline } from "../derive.ts";
import { h, replaceKeepingFocus } from "../dom.ts";
import {
  age,
  archName,
  clock,
  dateOf,
  duration,
  severityName,
  shortDigest,
  stateName,
  until,
} from "../format.ts";
import type { Ctx, View } from "../view.ts";
import { badge, liveText, note, refreshLive, section, table } from "../widgets.ts";
import { timelineChart } from "./timeline.ts";

interface Loaded {
  node: FleetNode;
  instance?: Instance;
  modules?: GetNodeModulesResponse;
  events: FleetEvent[];
}

const dl = (pairs: readonly [string, Node | string][]) =>
  h(
    "dl",
    { class: "facts" },
    pairs.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]),
  );

const digest = (d: string) => h("code", { title: d }, shortDigest(d));

/** The module's verification in words: verified, mounted but not matching, pending, failed, not reported. */
function verification(m: GetNodeModulesResponse["modules"][number]): string {
  if (m.verified) return "verified";
  const o = m.observed;
  if (!o) return "not reported";
  if (o.state === "mounted") return "drift";
  return o.state || "not reported";
}

export function nodeView(ctx: Ctx, _params: URLSearchParams, id: string): View {
  const status = h("div", { class: "action-status", role: "status", "aria-live": "polite" });
  const body = h("div", { class: "node-body" }, note("Loading…"));
  const el = h("div", { class: "view node" }, body);
  let data: Loaded | undefined;

  const act = async (what: string, fn: () => Promise<string>) => {
    status.replaceChildren(note(`${what}…`));
    try {
      status.replaceChildren(note(await fn()));
    } catch (err) {
      status.replaceChildren(note(`${what} failed: ${errorText(err)}`, "error"));
    }
    void load();
  };

  const actions = () =>
    h(
      "div",
      { class: "actions", role: "group", "aria-label": "node actions" },
      h(
        "button",
        { type: "button", "data-action": "attest", "data-key": "attest", onclick: onAttest },
        "Request attestation",
      ),
      h(
        "button",
        { type: "button", "data-action": "assign", "data-key": "assign", onclick: onAssign },
        "Assign modules…",
      ),
      h("button", { type: "button", "data-action": "stop", "data-key": "stop", onclick: onStop }, "Stop"),
      h(
        "button",
        { type: "button", class: "danger", "data-action": "delete", "data-key": "delete", onclick: onDelete },
        "Delete…",
      ),
    );

  async function onAttest() {
    if (!(await confirmAction(`Challenge ${name()} to attest its modules now?`, "Request attestation")))
      return;
    await act("Requesting attestation", async () => {
      await ctx.api.fleet.requestAttestation({ nodeId: id });
      return "Attestation requested: the verdict arrives as an event after the node's next heartbeat.";
    });
  }
  async function onAssign() {
    const current = (data?.instance?.modules ?? [])
      .map((m) => (m.version ? `${m.name}@${m.version}` : m.name))
      .join(", ");
    const value = await promptValue(
      `Modules assigned to ${name()} itself (its template's come in addition). Comma-separated, name or name@version:`,
      "Modules",
      current,
      "Assign",
    );
    if (value === undefined) return;
    const modules = value
      .split(",")
      .map((x) => x.trim())
      .filter(Boolean)
      .map((x) => {
        const [n, v] = x.split("@");
        return { name: n ?? "", version: v ?? "" };
      });
    await act("Assigning modules", async () => {
      const r = await ctx.api.provision.assignModules({ instanceId: id, modules });
      return `Desired state version ${r.desiredVersion}: ${r.modules.map((m) => `${m.name} ${m.version}`).join(", ") || "no modules"}.`;
    });
  }
  async function onStop() {
    if (!(await confirmAction(`Stop ${name()}?`, "Stop", true))) return;
    await act("Stopping", async () => {
      await ctx.api.provision.stopInstance({ id });
      return "Stopped.";
    });
  }
  async function onDelete() {
    if (
      !(await confirmAction(
        `Delete ${name()}? Its record and certificates go; this cannot be undone.`,
        "Delete",
        true,
      ))
    )
      return;
    await act("Deleting", async () => {
      await ctx.api.provision.deleteInstance({ id });
      location.hash = "#/fleet";
      return "Deleted.";
    });
  }
  const name = () => data?.node.name || id;

  const render = () => {
    if (!data) return;
    const { node, modules, events } = data;
    const timeline = phaseTimeline(events, node.bootId);
    const conds = latestConditions(events);
    const recent = events.slice(-15).reverse();
    replaceKeepingFocus(
      body,
      h("h1", {}, `Node ${node.name || node.id} `, badge("state", stateName(node.state))),
      actions(),
      status,
      section(
        "Identity",
        dl([
          ["id", h("code", {}, node.id)],
          ["name", node.name],
          ["arch", archName(node.arch)],
          ["provider", node.provider],
          ["template", data.instance?.template || "none"],
          ["agent version", node.agentVersion || "—"],
          ["boot id", node.bootId || "—"],
          ["uptime", node.uptimeSeconds > 0 ? duration(node.uptimeSeconds) : "—"],
          ["last heartbeat", liveText(() => age(dateOf(node.lastHeartbeatAt), ctx.now()))],
          ["enrolled", clock(dateOf(node.enrolledAt))],
          ["desired / applied version", `${node.desiredVersion} / ${node.appliedVersion}`],
        ]),
      ),
      section(
        "Certificate",
        dl([
          ["serial", node.certificateSerial ? h("code", {}, node.certificateSerial) : "none"],
          [
            "expires",
            `${clock(dateOf(node.certificateNotAfter))} (${until(dateOf(node.certificateNotAfter), ctx.now())})`,
          ],
        ]),
      ),
      section(
        "Boot timeline",
        timeline.bars.length > 0
          ? timelineChart(timeline.bars)
          : note("No phase reported for this boot yet."),
      ),
      section(
        "Modules",
        !modules || modules.modules.length === 0
          ? note("No module assigned.")
          : table(
              [
                "module",
                "version",
                "priority",
                "fs-verity digest",
                "dm-verity root hash",
                "verification",
                "message",
              ],
              modules.modules.map((m) => [
                h("span", { "data-module": m.assignment?.name ?? "" }, m.assignment?.name ?? "?"),
                m.assignment?.version ?? "",
                String(m.assignment?.priority ?? 0),
                digest(m.assignment?.metadataDigest ?? ""),
                digest(m.assignment?.verityRootHash ?? ""),
                badge("verify", verification(m)),
                m.observed?.message ?? "",
              ]),
              "modules",
            ),
        modules?.observedAt
          ? note(`Observed by the heartbeat of ${clock(dateOf(modules.observedAt))}.`)
          : note("No heartbeat has reported modules since the hub started."),
      ),
      section(
        "Controllers",
        conds.conditions.length === 0
          ? note("No condition reported yet.")
          : table(
              ["controller", "status", "reason", "message"],
              conds.conditions.map((c) => [
                c.type,
                badge("cond", c.ok ? "ok" : "failed"),
                c.reason,
                c.message,
              ]),
              "controller conditions",
            ),
      ),
      section(
        "Recent events",
        table(
          ["time", "severity", "kind"],
          recent.map((e) => [
            clock(dateOf(e.createdAt)),
            badge("severity", severityName(e.severity)),
            h(
              "a",
              { href: `#/events?node=${node.id}&correlation=${encodeURIComponent(e.correlationId)}` },
              e.kind,
            ),
          ]),
          "recent events",
        ),
      ),
    );
  };

  const load = async () => {
    try {
      const [n, modules, events, instance] = await Promise.all([
        ctx.api.fleet.getNode({ id }),
        ctx.api.fleet.getNodeModules({ nodeId: id }),
        ctx.api.fleet.listEvents({ nodeId: id, limit: 500 }),
        ctx.api.provision.getInstance({ id }).then(
          (r) => r.instance,
          () => undefined,
        ),
      ]);
      if (!n.node) throw new Error("the hub returned no node");
      data = { node: n.node, modules, events: events.events, instance };
      render();
    } catch (err) {
      body.replaceChildren(note(`Could not load node ${id}: ${errorText(err)}`, "error"));
    }
  };

  let pending: ReturnType<typeof setTimeout> | undefined;
  ctx.onEvent((e) => {
    if (e.nodeId !== id || pending) return;
    pending = setTimeout(() => {
      pending = undefined;
      void load();
    }, 200);
  });
  ctx.onDispose(() => clearTimeout(pending));
  ctx.everySecond(() => refreshLive(body));
  void load();
  return { title: "Node", el };
}
