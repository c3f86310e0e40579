CREATE TYPE "public"."route_leak_state" AS ENUM('active', 'revoked');--> statement-breakpoint
CREATE TABLE "route_leaks" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"from_network_id" uuid NOT NULL,
	"to_network_id" uuid NOT NULL,
	"prefix" text NOT NULL,
	"state" "route_leak_state" DEFAULT 'active' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "vrfs" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"node_id" uuid NOT NULL,
	"network_id" uuid NOT NULL,
	"vrf_name" text NOT NULL,
	"table_id" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "networks" ADD COLUMN "bgp_asn" bigint;--> statement-breakpoint
ALTER TABLE "route_leaks" ADD CONSTRAINT "route_leaks_from_network_id_networks_id_fk" FOREIGN KEY ("from_network_id") REFERENCES "public"."networks"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "route_leaks" ADD CONSTRAINT "route_leaks_to_network_id_networks_id_fk" FOREIGN KEY ("to_network_id") REFERENCES "public"."networks"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "vrfs" ADD CONSTRAINT "vrfs_node_id_instances_id_fk" FOREIGN KEY ("node_id") REFERENCES "public"."instances"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "vrfs" ADD CONSTRAINT "vrfs_network_id_networks_id_fk" FOREIGN KEY ("network_id") REFERENCES "public"."networks"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "route_leaks_to_network_id_state_index" ON "route_leaks" USING btree ("to_network_id","state");--> statement-breakpoint
CREATE UNIQUE INDEX "vrfs_node_id_network_id_index" ON "vrfs" USING btree ("node_id","network_id");--> statement-breakpoint
CREATE UNIQUE INDEX "vrfs_node_id_table_id_index" ON "vrfs" USING btree ("node_id","table_id");