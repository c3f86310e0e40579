/** The boot phase timeline as a horizontal bar chart (SVG, attributes only) with the same data as text. */
import type { PhaseBar } from "../derive.ts";
import { h, s } from "../dom.ts";

const W = 640;
const ROW = 26;
const LABEL = 90;
const RIGHT = 150;

/** One row per phase: its bar spans from the phase before to it, seconds since the kernel started. */
export function timelineChart(bars: readonly PhaseBar[]): HTMLElement {
  const end = Math.max(0.001, ...bars.map((b) => b.at));
  const scale = (W - LABEL - RIGHT) / end;
  const height = bars.length * ROW + 8;
  const svg = s(
    "svg",
    {
      viewBox: `0 0 ${W} ${height}`,
      width: W,
      height,
      role: "img",
      "aria-labelledby": "timeline-caption",
      class: "timeline",
    },
    bars.map((b, i) => {
      const y = 4 + i * ROW;
      const x0 = LABEL + (b.at - b.took) * scale;
      return s(
        "g",
        { "data-phase": b.phase },
        s("text", { x: 0, y: y + 16, class: "tl-label" }, b.phase),
        s("rect", {
          x: x0,
          y: y + 3,
          width: Math.max(2, b.took * scale),
          height: ROW - 8,
          class: `tl-bar tl-${b.phase}`,
        }),
        s(
          "text",
          { x: LABEL + b.at * scale + 6, y: y + 16, class: "tl-value" },
          `+${b.took.toFixed(2)} s (at ${b.at.toFixed(2)} s)`,
        ),
      );
    }),
  );
  return h(
    "figure",
    { class: "timeline-figure" },
    svg,
    h(
      "figcaption",
      { id: "timeline-caption" },
      `Boot phases, seconds since the kernel started: ${bars.map((b) => `${b.phase} ${b.at.toFixed(2)} s`).join(", ")}`,
    ),
  );
}
