CREATE TYPE "public"."network_profile" AS ENUM('heavyweight', 'lightweight');--> statement-breakpoint
CREATE TYPE "public"."cluster_cni" AS ENUM('flannel', 'ovn_kubernetes');--> statement-breakpoint
CREATE TYPE "public"."cluster_flavor" AS ENUM('k3s');--> statement-breakpoint
CREATE TYPE "public"."cluster_node_role" AS ENUM('server', 'agent');--> statement-breakpoint
CREATE TYPE "public"."cluster_node_status" AS ENUM('joining', 'active', 'disconnected');--> statement-breakpoint
CREATE TYPE "public"."cluster_status" AS ENUM('pending', 'bootstrapping', 'active', 'degraded', 'disconnected', 'error');--> statement-breakpoint
CREATE TYPE "public"."subnet_source" AS ENUM('pod_subnet');--> statement-breakpoint
CREATE TYPE "public"."vip_state" AS ENUM('active', 'inactive');--> statement-breakpoint
CREATE TABLE "k3s_cluster_nodes" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"cluster_id" uuid NOT NULL,
	"instance_id" uuid NOT NULL,
	"name" text NOT NULL,
	"role" "cluster_node_role" NOT NULL,
	"status" "cluster_node_status" DEFAULT 'joining' NOT NULL,
	"version" text,
	"last_heartbeat_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "k3s_cluster_nodes_instanceId_unique" UNIQUE("instance_id")
);
--> statement-breakpoint
CREATE TABLE "k3s_clusters" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"flavor" "cluster_flavor" DEFAULT 'k3s' NOT NULL,
	"status" "cluster_status" DEFAULT 'pending' NOT NULL,
	"cni" "cluster_cni" DEFAULT 'flannel' NOT NULL,
	"version" text,
	"api_endpoint" text NOT NULL,
	"network_id" uuid NOT NULL,
	"api_vip_id" uuid,
	"pod_advertisement_id" uuid,
	"kubeconfig" text,
	"server_token" text NOT NULL,
	"agent_token" text NOT NULL,
	"token_revision" integer DEFAULT 1 NOT NULL,
	"node_count" integer DEFAULT 0 NOT NULL,
	"pod_cidr" text,
	"metadata" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"bootstrap_events" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "k3s_clusters_name_unique" UNIQUE("name")
);
--> statement-breakpoint
CREATE TABLE "network_vips" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"network_id" uuid NOT NULL,
	"name" text NOT NULL,
	"address" text NOT NULL,
	"holder_member_ids" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"state" "vip_state" DEFAULT 'active' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "subnet_advertisements" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"network_id" uuid NOT NULL,
	"member_id" uuid NOT NULL,
	"source" "subnet_source" NOT NULL,
	"prefix" text NOT NULL,
	"active" boolean DEFAULT true NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "instances" ADD COLUMN "network_profile" "network_profile";--> statement-breakpoint
ALTER TABLE "networks" ADD COLUMN "pod_subnet_prefix" text;--> statement-breakpoint
ALTER TABLE "k3s_cluster_nodes" ADD CONSTRAINT "k3s_cluster_nodes_cluster_id_k3s_clusters_id_fk" FOREIGN KEY ("cluster_id") REFERENCES "public"."k3s_clusters"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "k3s_cluster_nodes" ADD CONSTRAINT "k3s_cluster_nodes_instance_id_instances_id_fk" FOREIGN KEY ("instance_id") REFERENCES "public"."instances"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "k3s_clusters" ADD CONSTRAINT "k3s_clusters_network_id_networks_id_fk" FOREIGN KEY ("network_id") REFERENCES "public"."networks"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "k3s_clusters" ADD CONSTRAINT "k3s_clusters_api_vip_id_network_vips_id_fk" FOREIGN KEY ("api_vip_id") REFERENCES "public"."network_vips"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "k3s_clusters" ADD CONSTRAINT "k3s_clusters_pod_advertisement_id_subnet_advertisements_id_fk" FOREIGN KEY ("pod_advertisement_id") REFERENCES "public"."subnet_advertisements"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "network_vips" ADD CONSTRAINT "network_vips_network_id_networks_id_fk" FOREIGN KEY ("network_id") REFERENCES "public"."networks"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "subnet_advertisements" ADD CONSTRAINT "subnet_advertisements_network_id_networks_id_fk" FOREIGN KEY ("network_id") REFERENCES "public"."networks"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "subnet_advertisements" ADD CONSTRAINT "subnet_advertisements_member_id_network_members_id_fk" FOREIGN KEY ("member_id") REFERENCES "public"."network_members"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "k3s_cluster_nodes_cluster_id_index" ON "k3s_cluster_nodes" USING btree ("cluster_id");--> statement-breakpoint
CREATE INDEX "k3s_clusters_network_id_index" ON "k3s_clusters" USING btree ("network_id");--> statement-breakpoint
CREATE UNIQUE INDEX "network_vips_network_id_address_index" ON "network_vips" USING btree ("network_id","address");--> statement-breakpoint
CREATE UNIQUE INDEX "network_vips_network_id_name_index" ON "network_vips" USING btree ("network_id","name");--> statement-breakpoint
CREATE INDEX "subnet_advertisements_network_id_active_index" ON "subnet_advertisements" USING btree ("network_id","active");--> statement-breakpoint
CREATE INDEX "subnet_advertisements_member_id_index" ON "subnet_advertisements" USING btree ("member_id");