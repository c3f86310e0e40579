/**
 * Catalog and templates: every module with its versions (arch, digests, sizes) and the nodes assigned
 * each version (verified or not, from GetNodeModules); the templates and their module sets.
 */
import {
  EVENTS,
  type Node as FleetNode,
  type Module,
  type ModuleVersion,
  type Template,
} from "@powernode/proto/browser";
import { errorText } from "../api.ts";
import { h } from "../dom.ts";
import { archName, bytes, clock, dateOf, shortDigest } from "../format.ts";
import type { Ctx, View } from "../view.ts";
import { badge, note, section, table } from "../widgets.ts";

const RELOAD_ON = new Set([
  EVENTS.catalogModuleCreated.kind,
  EVENTS.catalogVersionPublished.kind,
  EVENTS.moduleSetApplied.kind,
  EVENTS.moduleDrift.kind,
]);

/** Nodes asked for their modules (the rest are left out and said so). */
const MAX_NODES = 200;

interface Loaded {
  modules: { module: Module; versions: ModuleVersion[] }[];
  templates: Template[];
  runners: Map<string, { node: FleetNode; verified: boolean }[]>;
  nodesLeftOut: number;
}

const digest = (d: string) => h("code", { title: d }, shortDigest(d));

async function loadAll(ctx: Ctx): Promise<Loaded> {
  const [{ modules }, { templates }, { nodes }] = await Promise.all([
    ctx.api.catalog.listModules({}),
    ctx.api.provision.listTemplates({}),
    ctx.api.fleet.listNodes({ pageSize: MAX_NODES }),
  ]);
  const withVersions = await Promise.all(
    modules.map(async (m) => ({
      module: m,
      versions: (await ctx.api.catalog.getModule({ name: m.name })).versions,
    })),
  );
  const runners = new Map<string, { node: FleetNode; verified: boolean }[]>();
  await Promise.all(
    nodes.map(async (n) => {
      const r = await ctx.api.fleet.getNodeModules({ nodeId: n.id });
      for (const m of r.modules) {
        const key = `${m.assignment?.name} ${m.assignment?.version}`;
        runners.set(key, [...(runners.get(key) ?? []), { node: n, verified: m.verified }]);
      }
    }),
  );
  return { modules: withVersions, templates, runners, nodesLeftOut: nodes.length >= MAX_NODES ? 1 : 0 };
}

export function catalogView(ctx: Ctx): View {
  const body = h("div", {}, note("Loading…"));
  const el = h("div", { class: "view catalog" }, h("h1", {}, "Catalog and templates"), body);
  const render = (d: Loaded) => {
    const versionRows = d.modules.flatMap(({ module, versions }) =>
      versions.map((v) => [
        h("span", { "data-module": module.name }, module.name),
        v.version,
        archName(v.arch),
        digest(v.fsverityDigest),
        digest(v.verityRootHash),
        digest(v.ociDigest),
        bytes(v.metadataSize + v.blobSize),
        clock(dateOf(v.createdAt)),
        h(
          "span",
          {},
          (d.runners.get(`${module.name} ${v.version}`) ?? []).map((r) =>
            h(
              "a",
              { href: `#/node/${r.node.id}`, class: "runner" },
              r.node.name || r.node.id.slice(0, 8),
              " ",
              badge("verify", r.verified ? "verified" : "pending"),
            ),
          ),
        ),
      ]),
    );
    body.replaceChildren(
      section(
        "Modules",
        d.modules.length === 0
          ? note("No module in the catalog.")
          : table(
              [
                "module",
                "version",
                "arch",
                "fs-verity digest",
                "dm-verity root hash",
                "OCI digest",
                "size",
                "published",
                "nodes",
              ],
              versionRows,
              "module versions",
            ),
        d.modules.some((m) => m.versions.length === 0)
          ? note(
              `Without a version yet: ${d.modules
                .filter((m) => m.versions.length === 0)
                .map((m) => m.module.name)
                .join(", ")}.`,
            )
          : null,
        d.nodesLeftOut ? note(`Only the first ${MAX_NODES} nodes were asked which modules they run.`) : null,
      ),
      section(
        "Templates",
        d.templates.length === 0
          ? note("No template.")
          : table(
              ["template", "modules", "created"],
              d.templates.map((t) => [
                t.name,
                t.modules
                  .map((m) => (m.version ? `${m.name} ${m.version}` : `${m.name} (newest)`))
                  .join(", ") || "—",
                clock(dateOf(t.createdAt)),
              ]),
              "templates",
            ),
      ),
    );
  };
  const load = () =>
    loadAll(ctx).then(render, (err) =>
      body.replaceChildren(note(`Could not load the catalog: ${errorText(err)}`, "error")),
    );
  ctx.onEvent((e) => {
    if (RELOAD_ON.has(e.kind)) void load();
  });
  void load();
  return { title: "Catalog", el };
}
