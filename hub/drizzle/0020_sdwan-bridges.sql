CREATE TYPE "public"."host_bridge_kind" AS ENUM('linux', 'ovs');--> statement-breakpoint
CREATE TYPE "public"."host_bridge_state" AS ENUM('active', 'draining', 'removed');--> statement-breakpoint
CREATE TABLE "host_bridges" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"node_id" uuid NOT NULL,
	"short_id" integer NOT NULL,
	"name" text NOT NULL,
	"kind" "host_bridge_kind" NOT NULL,
	"state" "host_bridge_state" DEFAULT 'active' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "ipfix_collectors" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"host" text NOT NULL,
	"port" integer DEFAULT 4739 NOT NULL,
	"sampling" integer DEFAULT 64 NOT NULL,
	"enabled" boolean DEFAULT true NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "host_bridges" ADD CONSTRAINT "host_bridges_node_id_instances_id_fk" FOREIGN KEY ("node_id") REFERENCES "public"."instances"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "host_bridges_node_id_short_id_index" ON "host_bridges" USING btree ("node_id","short_id");--> statement-breakpoint
CREATE INDEX "host_bridges_node_id_state_index" ON "host_bridges" USING btree ("node_id","state");--> statement-breakpoint
CREATE UNIQUE INDEX "ipfix_collectors_name_index" ON "ipfix_collectors" USING btree ("name");--> statement-breakpoint
CREATE INDEX "ipfix_collectors_enabled_index" ON "ipfix_collectors" USING btree ("enabled") WHERE "ipfix_collectors"."enabled";