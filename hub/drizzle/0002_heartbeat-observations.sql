ALTER TABLE "instances" ADD COLUMN "zombie_count" integer;--> statement-breakpoint
ALTER TABLE "instances" ADD COLUMN "agent_rss_bytes" bigint;--> statement-breakpoint
ALTER TABLE "instances" ADD COLUMN "children_spawned" integer;