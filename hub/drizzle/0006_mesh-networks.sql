CREATE TYPE "public"."credential_status" AS ENUM('active', 'superseded', 'revoked');--> statement-breakpoint
CREATE TYPE "public"."mesh_topology" AS ENUM('full_mesh', 'hub_and_spoke');--> statement-breakpoint
CREATE TABLE "membership_credentials" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"network_id" uuid NOT NULL,
	"member_id" uuid NOT NULL,
	"revision" bigint NOT NULL,
	"status" "credential_status" DEFAULT 'active' NOT NULL,
	"envelope" text NOT NULL,
	"signature" text NOT NULL,
	"not_before" timestamp with time zone NOT NULL,
	"not_after" timestamp with time zone NOT NULL,
	"refresh_after" timestamp with time zone NOT NULL,
	"revoked_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "network_members" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"network_id" uuid NOT NULL,
	"instance_id" uuid NOT NULL,
	"address" text NOT NULL,
	"hub" boolean DEFAULT false NOT NULL,
	"public_key" text,
	"listen_port" integer,
	"endpoints" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"observed" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"observed_at" timestamp with time zone,
	"problem" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "networks" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"handle" text NOT NULL,
	"prefix" text NOT NULL,
	"topology" "mesh_topology" DEFAULT 'full_mesh' NOT NULL,
	"listen_port" integer DEFAULT 51820 NOT NULL,
	"mtu" integer DEFAULT 1420 NOT NULL,
	"version" bigint DEFAULT 0 NOT NULL,
	"signing_key_pem" text NOT NULL,
	"signing_public_key" text NOT NULL,
	"constellation_handle" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "networks_name_unique" UNIQUE("name"),
	CONSTRAINT "networks_handle_unique" UNIQUE("handle")
);
--> statement-breakpoint
ALTER TABLE "membership_credentials" ADD CONSTRAINT "membership_credentials_network_id_networks_id_fk" FOREIGN KEY ("network_id") REFERENCES "public"."networks"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "membership_credentials" ADD CONSTRAINT "membership_credentials_member_id_network_members_id_fk" FOREIGN KEY ("member_id") REFERENCES "public"."network_members"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "network_members" ADD CONSTRAINT "network_members_network_id_networks_id_fk" FOREIGN KEY ("network_id") REFERENCES "public"."networks"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "network_members" ADD CONSTRAINT "network_members_instance_id_instances_id_fk" FOREIGN KEY ("instance_id") REFERENCES "public"."instances"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "membership_credentials_one_active" ON "membership_credentials" USING btree ("member_id") WHERE "membership_credentials"."status" = 'active';--> statement-breakpoint
CREATE UNIQUE INDEX "membership_credentials_member_id_revision_index" ON "membership_credentials" USING btree ("member_id","revision");--> statement-breakpoint
CREATE INDEX "membership_credentials_network_id_status_index" ON "membership_credentials" USING btree ("network_id","status");--> statement-breakpoint
CREATE UNIQUE INDEX "network_members_network_id_instance_id_index" ON "network_members" USING btree ("network_id","instance_id");--> statement-breakpoint
CREATE UNIQUE INDEX "network_members_network_id_address_index" ON "network_members" USING btree ("network_id","address");--> statement-breakpoint
CREATE INDEX "network_members_instance_id_index" ON "network_members" USING btree ("instance_id");