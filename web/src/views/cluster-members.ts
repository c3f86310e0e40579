/**
 * The Fleet view's cluster members: on a hub running on PostgreSQL, every member's replication slot
 * with its lag (bytes not yet replayed, PostgreSQL's replay lag), whether it streams now and whether
 * this hub waits for it on commit (FederationService/ListMemberSlots). Nothing on PGlite, which has no
 * members.
 */
import type { MemberSlot } from "@powernode/proto/browser";
import { errorText, hubDatabase } from "../api.ts";
import { h } from "../dom.ts";
import { bytes } from "../format.ts";
import type { Ctx } from "../view.ts";
import { badge, note, section, table } from "../widgets.ts";

export function clusterMembers(ctx: Ctx): { el: HTMLElement; load(): Promise<void> } {
  const el = h("div", { class: "cluster-members" });
  let postgres: boolean | undefined;
  const render = (slots: MemberSlot[]) =>
    el.replaceChildren(
      section(
        "Cluster members",
        slots.length === 0
          ? note("No cluster member replicates this hub's database.")
          : table(
              ["slot", "streaming", "synchronous", "lag", "replay lag"],
              slots.map((s) => [
                h("code", { "data-slot": s.slot }, s.slot),
                badge("state", s.streaming ? "running" : "stopped"),
                s.synchronous ? "yes (commits wait for it)" : "no",
                bytes(s.lagBytes),
                `${s.lagSeconds.toFixed(1)} s`,
              ]),
              "cluster members",
            ),
      ),
    );
  const load = async () => {
    try {
      postgres ??= (await hubDatabase()) === "postgres";
      if (!postgres) return;
      render((await ctx.api.federation.listMemberSlots({})).slots);
    } catch (err) {
      el.replaceChildren(note(`Could not load the cluster members: ${errorText(err)}`, "error"));
    }
  };
  return { el, load };
}
