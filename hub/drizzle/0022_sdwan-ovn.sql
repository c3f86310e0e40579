CREATE TYPE "public"."ovn_acl_action" AS ENUM('allow', 'allow-related', 'drop', 'reject');--> statement-breakpoint
CREATE TYPE "public"."ovn_acl_direction" AS ENUM('from-lport', 'to-lport');--> statement-breakpoint
CREATE TYPE "public"."ovn_deployment_state" AS ENUM('bootstrapping', 'active', 'degraded');--> statement-breakpoint
CREATE TYPE "public"."ovn_port_kind" AS ENUM('vm', 'container', 'router');--> statement-breakpoint
CREATE TABLE "ovn_acls" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"switch_id" uuid NOT NULL,
	"direction" "ovn_acl_direction" NOT NULL,
	"priority" integer NOT NULL,
	"match" text NOT NULL,
	"action" "ovn_acl_action" NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "ovn_deployments" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"nb_endpoint" text NOT NULL,
	"sb_endpoint" text NOT NULL,
	"northd_host" text NOT NULL,
	"network_id" uuid NOT NULL,
	"state" "ovn_deployment_state" DEFAULT 'bootstrapping' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "ovn_logical_ports" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"switch_id" uuid NOT NULL,
	"name" text NOT NULL,
	"kind" "ovn_port_kind" NOT NULL,
	"node_id" uuid,
	"router_id" uuid,
	"address" text NOT NULL,
	"mac" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "ovn_logical_routers" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"deployment_id" uuid NOT NULL,
	"name" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "ovn_logical_switches" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"deployment_id" uuid NOT NULL,
	"name" text NOT NULL,
	"subnet" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "ovn_acls" ADD CONSTRAINT "ovn_acls_switch_id_ovn_logical_switches_id_fk" FOREIGN KEY ("switch_id") REFERENCES "public"."ovn_logical_switches"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "ovn_deployments" ADD CONSTRAINT "ovn_deployments_network_id_networks_id_fk" FOREIGN KEY ("network_id") REFERENCES "public"."networks"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "ovn_logical_ports" ADD CONSTRAINT "ovn_logical_ports_switch_id_ovn_logical_switches_id_fk" FOREIGN KEY ("switch_id") REFERENCES "public"."ovn_logical_switches"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "ovn_logical_ports" ADD CONSTRAINT "ovn_logical_ports_node_id_instances_id_fk" FOREIGN KEY ("node_id") REFERENCES "public"."instances"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "ovn_logical_ports" ADD CONSTRAINT "ovn_logical_ports_router_id_ovn_logical_routers_id_fk" FOREIGN KEY ("router_id") REFERENCES "public"."ovn_logical_routers"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "ovn_logical_routers" ADD CONSTRAINT "ovn_logical_routers_deployment_id_ovn_deployments_id_fk" FOREIGN KEY ("deployment_id") REFERENCES "public"."ovn_deployments"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "ovn_logical_switches" ADD CONSTRAINT "ovn_logical_switches_deployment_id_ovn_deployments_id_fk" FOREIGN KEY ("deployment_id") REFERENCES "public"."ovn_deployments"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "ovn_deployments_name_index" ON "ovn_deployments" USING btree ("name");--> statement-breakpoint
CREATE UNIQUE INDEX "ovn_logical_ports_switch_id_name_index" ON "ovn_logical_ports" USING btree ("switch_id","name");--> statement-breakpoint
CREATE UNIQUE INDEX "ovn_logical_routers_deployment_id_name_index" ON "ovn_logical_routers" USING btree ("deployment_id","name");--> statement-breakpoint
CREATE UNIQUE INDEX "ovn_logical_switches_deployment_id_name_index" ON "ovn_logical_switches" USING btree ("deployment_id","name");