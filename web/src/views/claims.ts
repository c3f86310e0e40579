/**
 * Claims: machines in claim mode (unknown hardware that reported itself) with the code each printed
 * on its console, what it said it is, and when its code expires; Confirm (creates and binds its
 * instance, from a template if one is named) and Reject, each asked first. Live: a discovery, claim or
 * rejection anywhere reloads the list.
 */
import { type ClaimedDevice, EVENTS, type Template } from "@powernode/proto/browser";
import { errorText } from "../api.ts";
import { promptValue } from "../confirm.ts";
import { h } from "../dom.ts";
import { archName, clock, dateOf, until } from "../format.ts";
import type { Ctx, View } from "../view.ts";
import { badge, liveText, note, refreshLive, section, table } from "../widgets.ts";

const RELOAD_ON = new Set([
  EVENTS.physicalDeviceDiscovered.kind,
  EVENTS.physicalDeviceClaimed.kind,
  EVENTS.physicalDeviceRejected.kind,
]);

const mib = (n: number) => (n >= 1024 ? `${(n / 1024).toFixed(1)} GiB` : `${n} MiB`);

export function claimsView(ctx: Ctx): View {
  const status = h("div", { role: "status", "aria-live": "polite" });
  const body = h("div", {}, note("Loading…"));
  const el = h("div", { class: "view claims" }, h("h1", {}, "Claims"), status, body);
  let templates: Template[] = [];

  const act = async (what: string, fn: () => Promise<Node | string>) => {
    status.replaceChildren(note(`${what}…`));
    try {
      const done = await fn();
      status.replaceChildren(typeof done === "string" ? note(done) : done);
    } catch (err) {
      status.replaceChildren(note(`${what} failed: ${errorText(err)}`, "error"));
    }
    void load();
  };

  async function onConfirm(d: ClaimedDevice) {
    const names = templates.map((t) => t.name);
    const template = await promptValue(
      `Confirm ${d.claimCode}: create its instance and let it enroll. Template to apply (${names.length ? `one of ${names.join(", ")}; ` : ""}empty: none):`,
      "Template",
      names[0] ?? "",
      "Confirm",
    );
    if (template === undefined) return;
    await act(`Confirming ${d.claimCode}`, async () => {
      const r = await ctx.api.claims.confirmClaim({
        claimCode: d.claimCode,
        template: template.trim(),
        name: "",
      });
      const inst = r.instance;
      return h(
        "p",
        { class: "note" },
        `Claimed ${d.claimCode}: instance `,
        h("a", { href: `#/node/${inst?.id}`, "data-claimed": inst?.id ?? "" }, inst?.name ?? inst?.id ?? "?"),
        "; it enrolls at its next poll.",
      );
    });
  }

  async function onReject(d: ClaimedDevice) {
    const reason = await promptValue(
      `Reject ${d.claimCode}? Its polls then say so and the machine may not ask again for a while.`,
      "Reason (shown to the machine)",
      "",
      "Reject",
    );
    if (reason === undefined) return;
    await act(`Rejecting ${d.claimCode}`, async () => {
      await ctx.api.claims.rejectClaim({ claimCode: d.claimCode, reason: reason.trim() });
      return `Rejected ${d.claimCode}.`;
    });
  }

  const row = (d: ClaimedDevice) => {
    const f = d.facts;
    const expires = dateOf(d.expiresAt);
    return [
      h("code", { "data-claim": d.claimCode }, d.claimCode),
      badge("state", d.status),
      f?.macs.join(", ") || "—",
      f?.dmiUuid || f?.serial || "—",
      `${f?.platformHint || "—"} ${f ? archName(f.arch) : ""}`,
      f?.model || "—",
      f ? `${f.cpus} CPU, ${mib(f.memoryMib)}` : "—",
      d.sourceAddress,
      h(
        "span",
        { title: clock(expires) },
        liveText(() => until(expires, ctx.now())),
      ),
      d.status === "pending"
        ? h(
            "div",
            { class: "actions", role: "group", "aria-label": `actions for ${d.claimCode}` },
            h(
              "button",
              {
                type: "button",
                "data-action": "confirm-claim",
                "data-code": d.claimCode,
                onclick: () => onConfirm(d),
              },
              "Confirm…",
            ),
            h(
              "button",
              {
                type: "button",
                "data-action": "reject-claim",
                "data-code": d.claimCode,
                onclick: () => onReject(d),
              },
              "Reject…",
            ),
          )
        : "—",
    ];
  };

  const render = (devices: ClaimedDevice[]) =>
    body.replaceChildren(
      section(
        "Waiting for an operator",
        devices.length === 0
          ? note(
              "No machine is waiting. A machine with no identity that is told the hub's URL (netboot, a disk image with --claim-url) appears here with the code on its console.",
            )
          : table(
              [
                "code",
                "status",
                "MACs",
                "DMI UUID / serial",
                "platform",
                "model",
                "size",
                "from",
                "expires",
                "",
              ],
              devices.map(row),
              "claims",
            ),
      ),
    );

  const load = () =>
    Promise.all([ctx.api.claims.listClaims({ all: false }), ctx.api.provision.listTemplates({})]).then(
      ([c, t]) => {
        templates = t.templates;
        render(c.devices);
      },
      (err) => body.replaceChildren(note(`Could not load the claims: ${errorText(err)}`, "error")),
    );
  ctx.onEvent((e) => {
    if (RELOAD_ON.has(e.kind)) void load();
  });
  ctx.everySecond(() => refreshLive(body));
  void load();
  return { title: "Claims", el };
}
