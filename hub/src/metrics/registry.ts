/**
 * A small Prometheus registry: counters and histograms with labels, rendered in text format 0.0.4.
 * Gauges are computed at scrape time by collectors (nodes by state).
 */

/** A series' labels. An object passed frozen is rendered once and its rendering kept. */
export type Labels = Readonly<Record<string, string>>;

const keyCache = new Map<string, string>();
const frozenKeys = new WeakMap<Labels, string>();

function labelKey(labels: Labels): string {
  if (Object.isFrozen(labels)) {
    let key = frozenKeys.get(labels);
    if (key === undefined) {
      key = renderLabels(labels);
      frozenKeys.set(labels, key);
    }
    return key;
  }
  // Most label sets repeat (one per method); memoise the rendering on a cheap join.
  const raw = Object.entries(labels).join("\u0000");
  const hit = keyCache.get(raw);
  if (hit !== undefined) return hit;
  const key = renderLabels(labels);
  if (keyCache.size < 10_000) keyCache.set(raw, key);
  return key;
}

function renderLabels(labels: Labels): string {
  return Object.keys(labels)
    .sort()
    .map(
      (k) => `${k}="${(labels[k] ?? "").replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`,
    )
    .join(",");
}

/** `{labels}`, or nothing for a series without labels. */
function braces(key: string): string {
  return key === "" ? "" : `{${key}}`;
}

/** Latency buckets in seconds. */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The metrics the hub records. */
export interface Metrics {
  inc(name: string, labels: Labels, by?: number): void;
  observe(name: string, labels: Labels, value: number): void;
  /** Registers a scrape-time gauge source: returns [labels, value] pairs. */
  collect(name: string, help: string, fn: () => Promise<[Labels, number][]>): void;
  /** Declares help text for a counter or histogram. */
  describe(name: string, type: "counter" | "histogram", help: string): void;
  render(): Promise<string>;
}

/** Creates an empty registry. */
export function createMetrics(): Metrics {
  const help = new Map<string, { type: "counter" | "histogram"; help: string }>();
  const counters = new Map<string, Map<string, number>>();
  const hists = new Map<string, Map<string, { buckets: number[]; sum: number; count: number }>>();
  const collectors: { name: string; help: string; fn: () => Promise<[Labels, number][]> }[] = [];
  return {
    describe(name, type, h) {
      help.set(name, { type, help: h });
    },
    inc(name, labels, by = 1) {
      let m = counters.get(name);
      if (!m) {
        m = new Map();
        counters.set(name, m);
      }
      const k = labelKey(labels);
      m.set(k, (m.get(k) ?? 0) + by);
    },
    observe(name, labels, value) {
      let m = hists.get(name);
      if (!m) {
        m = new Map();
        hists.set(name, m);
      }
      const k = labelKey(labels);
      let h = m.get(k);
      if (!h) {
        h = { buckets: LATENCY_BUCKETS.map(() => 0), sum: 0, count: 0 };
        m.set(k, h);
      }
      for (let i = 0; i < LATENCY_BUCKETS.length; i++) {
        if (value <= (LATENCY_BUCKETS[i] ?? 0)) h.buckets[i] = (h.buckets[i] ?? 0) + 1;
      }
      h.sum += value;
      h.count++;
    },
    collect(name, h, fn) {
      collectors.push({ name, help: h, fn });
    },
    async render() {
      const out: string[] = [];
      for (const [name, m] of counters) {
        out.push(`# HELP ${name} ${help.get(name)?.help ?? name}`, `# TYPE ${name} counter`);
        for (const [k, v] of m) out.push(`${name}${braces(k)} ${v}`);
      }
      for (const [name, m] of hists) {
        out.push(`# HELP ${name} ${help.get(name)?.help ?? name}`, `# TYPE ${name} histogram`);
        for (const [k, h] of m) {
          const sep = k ? "," : "";
          LATENCY_BUCKETS.forEach((b, i) => {
            out.push(`${name}_bucket{${k}${sep}le="${b}"} ${h.buckets[i] ?? 0}`);
          });
          out.push(`${name}_bucket{${k}${sep}le="+Inf"} ${h.count}`);
          out.push(`${name}_sum${braces(k)} ${h.sum}`, `${name}_count${braces(k)} ${h.count}`);
        }
      }
      for (const c of collectors) {
        out.push(`# HELP ${c.name} ${c.help}`, `# TYPE ${c.name} gauge`);
        for (const [labels, v] of await c.fn()) out.push(`${c.name}${braces(labelKey(labels))} ${v}`);
      }
      return `${out.join("\n")}\n`;
    },
  };
}
