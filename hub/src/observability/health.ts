/** `/healthz`: 200 when the database answers, 503 otherwise. */
import { sql } from "drizzle-orm";
import { Elysia } from "elysia";
import type { Deps } from "../deps.ts";

/** The health plugin. */
export function healthRoutes(deps: Deps) {
  return new Elysia({ name: "health" }).get("/healthz", async ({ set }) => {
    try {
      await deps.db.execute(sql`select 1`);
      return { status: "ok", database: deps.dbDriver };
    } catch (e) {
      deps.log.warn("health check failed", { error: e });
      set.status = 503;
      return { status: "unavailable", database: deps.dbDriver };
    }
  });
}
