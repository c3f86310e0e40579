/** CVE records for drills: which Debian packages at which versions a vulnerability affects. */
import { jsonb, pgTable, text } from "drizzle-orm/pg-core";
import { timestamps } from "./common.ts";

/** One affected package and the Debian relations its vulnerable versions satisfy. */
export interface CveAffectedDocument {
  package: string;
  range: string;
}

export const cves = pgTable("cves", {
  /** `CVE-<year>-<digits>`. */
  id: text().primaryKey(),
  severity: text().$type<"low" | "medium" | "high" | "critical">().notNull(),
  summary: text().notNull().default(""),
  affected: jsonb().$type<CveAffectedDocument[]>().notNull(),
  ...timestamps,
});
