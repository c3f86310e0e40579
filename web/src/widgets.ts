/** Small pieces every view uses: state badges (a colour and always a word), tables, sections. */
import { h } from "./dom.ts";

/**
 * A badge: its class picks the colour, its text says the same in words (colour is never the only
 * carrier), with a shape mark for the colour-blind: ● ok, ▲ warning, ■ bad, ○ neutral.
 */
export function badge(
  group: "state" | "severity" | "attestation" | "verify" | "cond",
  value: string,
): HTMLElement {
  const mark = MARKS[value] ?? "○";
  return h(
    "span",
    { class: `badge ${group}-${value}`, "data-badge": group, "data-value": value },
    h("span", { "aria-hidden": "true" }, mark),
    ` ${value}`,
  );
}

const MARKS: Record<string, string> = {
  running: "●",
  verified: "●",
  ok: "●",
  info: "●",
  mounted: "●",
  degraded: "▲",
  warn: "▲",
  requested: "○",
  pending: "○",
  starting: "○",
  error: "■",
  critical: "■",
  failed: "■",
  drift: "■",
  stopped: "■",
};

/** A table with a header row; `rows` are arrays of cells. */
export function table(
  headers: readonly string[],
  rows: readonly (readonly (Node | string)[])[],
  label: string,
): HTMLElement {
  return h(
    "table",
    { "aria-label": label },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        headers.map((x) => h("th", { scope: "col" }, x)),
      ),
    ),
    h(
      "tbody",
      {},
      rows.map((r) =>
        h(
          "tr",
          {},
          r.map((c) => h("td", {}, c)),
        ),
      ),
    ),
  );
}

export function section(title: string, ...children: (Node | string | null)[]): HTMLElement {
  const id = `s-${title.toLowerCase().replace(/[^a-z0-9]+/g, "-")}`;
  return h("section", { "aria-labelledby": id }, h("h2", { id }, title), ...children);
}

/** A cell whose text is `fn(now)`, refreshed by the view's ticker (ages). */
export function liveText(fn: () => string): HTMLElement {
  const el = h("span", { "data-live": "1" }, fn());
  (el as HTMLElement & { refresh?: () => void }).refresh = () => {
    el.textContent = fn();
  };
  return el;
}

/** Refreshes every live text under `root`. */
export function refreshLive(root: Element): void {
  for (const el of root.querySelectorAll("[data-live]"))
    (el as HTMLElement & { refresh?: () => void }).refresh?.();
}

/** A status line for errors (role=alert) or notes. */
export function note(text: string, kind: "error" | "info" = "info"): HTMLElement {
  return h("p", { class: `note note-${kind}`, role: kind === "error" ? "alert" : "status" }, text);
}
