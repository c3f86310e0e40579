/** Column helpers shared by every table: timestamps with time zone, created/updated. */
import { timestamp } from "drizzle-orm/pg-core";

/** `created_at` / `updated_at`, both set by the database on insert. */
export const timestamps = {
  createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
};
