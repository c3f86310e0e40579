CREATE TYPE "public"."severity" AS ENUM('info', 'warn', 'error', 'critical');--> statement-breakpoint
CREATE TYPE "public"."instance_state" AS ENUM('pending', 'starting', 'running', 'degraded', 'stopped', 'deleted');--> statement-breakpoint
CREATE TABLE "admin_tokens" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"token_hash" text NOT NULL,
	"name" text DEFAULT 'admin' NOT NULL,
	"revoked_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "admin_tokens_tokenHash_unique" UNIQUE("token_hash")
);
--> statement-breakpoint
CREATE TABLE "bootstrap_tokens" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"token_hash" text NOT NULL,
	"instance_id" uuid NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"consumed_at" timestamp with time zone,
	"consumed_by_ip" text,
	"revoked_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "bootstrap_tokens_tokenHash_unique" UNIQUE("token_hash")
);
--> statement-breakpoint
CREATE TABLE "ca" (
	"id" text PRIMARY KEY NOT NULL,
	"key_pem" text NOT NULL,
	"cert_pem" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "certificates" (
	"serial" text PRIMARY KEY NOT NULL,
	"instance_id" uuid NOT NULL,
	"not_before" timestamp with time zone NOT NULL,
	"not_after" timestamp with time zone NOT NULL,
	"revoked_at" timestamp with time zone,
	"pem" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "desired_states" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"instance_id" uuid NOT NULL,
	"version" bigint NOT NULL,
	"document" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "desired_states_instanceId_version_unique" UNIQUE("instance_id","version")
);
--> statement-breakpoint
CREATE TABLE "fleet_events" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"kind" text NOT NULL,
	"severity" "severity" NOT NULL,
	"payload" jsonb NOT NULL,
	"correlation_id" text,
	"node_id" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "instances" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"arch" text NOT NULL,
	"memory_mib" integer DEFAULT 1024 NOT NULL,
	"vcpus" integer DEFAULT 1 NOT NULL,
	"provider" text NOT NULL,
	"network" text DEFAULT 'user' NOT NULL,
	"persistent" boolean DEFAULT false NOT NULL,
	"state" "instance_state" DEFAULT 'pending' NOT NULL,
	"provider_info" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"agent_version" text,
	"boot_id" text,
	"uptime_seconds" double precision,
	"last_heartbeat_at" timestamp with time zone,
	"enrolled_at" timestamp with time zone,
	"desired_version" bigint DEFAULT 0 NOT NULL,
	"applied_version" bigint DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "module_versions" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"module_id" uuid NOT NULL,
	"version" text NOT NULL,
	"arch" text NOT NULL,
	"fsverity_digest" text NOT NULL,
	"verity_root_hash" text NOT NULL,
	"oci_digest" text DEFAULT '' NOT NULL,
	"metadata_size" bigint DEFAULT 0 NOT NULL,
	"blob_size" bigint DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "module_versions_moduleId_version_arch_unique" UNIQUE("module_id","version","arch")
);
--> statement-breakpoint
CREATE TABLE "modules" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"priority" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "modules_name_unique" UNIQUE("name")
);
--> statement-breakpoint
ALTER TABLE "bootstrap_tokens" ADD CONSTRAINT "bootstrap_tokens_instance_id_instances_id_fk" FOREIGN KEY ("instance_id") REFERENCES "public"."instances"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "certificates" ADD CONSTRAINT "certificates_instance_id_instances_id_fk" FOREIGN KEY ("instance_id") REFERENCES "public"."instances"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "desired_states" ADD CONSTRAINT "desired_states_instance_id_instances_id_fk" FOREIGN KEY ("instance_id") REFERENCES "public"."instances"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "module_versions" ADD CONSTRAINT "module_versions_module_id_modules_id_fk" FOREIGN KEY ("module_id") REFERENCES "public"."modules"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "bootstrap_tokens_instance_id_index" ON "bootstrap_tokens" USING btree ("instance_id");--> statement-breakpoint
CREATE INDEX "certificates_instance_id_not_after_index" ON "certificates" USING btree ("instance_id","not_after");--> statement-breakpoint
CREATE INDEX "fleet_events_created_at_index" ON "fleet_events" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "fleet_events_kind_created_at_index" ON "fleet_events" USING btree ("kind","created_at");--> statement-breakpoint
CREATE INDEX "fleet_events_node_id_created_at_index" ON "fleet_events" USING btree ("node_id","created_at");--> statement-breakpoint
CREATE INDEX "fleet_events_correlation_id_index" ON "fleet_events" USING btree ("correlation_id");--> statement-breakpoint
CREATE INDEX "instances_state_created_at_index" ON "instances" USING btree ("state","created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "instances_live_name_key" ON "instances" USING btree ("name") WHERE "instances"."state" <> 'deleted';--> statement-breakpoint
CREATE INDEX "module_versions_module_id_index" ON "module_versions" USING btree ("module_id");