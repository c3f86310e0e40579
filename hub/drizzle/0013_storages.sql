CREATE TYPE "public"."storage_encryption" AS ENUM('none', 'fscrypt');--> statement-breakpoint
CREATE TYPE "public"."storage_shape" AS ENUM('self_hosted', 'gateway_proxy');--> statement-breakpoint
CREATE TABLE "storage_assignments" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"storage_id" uuid NOT NULL,
	"client_id" uuid NOT NULL,
	"mount_path" text NOT NULL,
	"options" text DEFAULT '' NOT NULL,
	"encryption" text DEFAULT 'inherit' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "storages" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"kind" text DEFAULT 'nfs' NOT NULL,
	"shape" "storage_shape" NOT NULL,
	"encryption" "storage_encryption" DEFAULT 'none' NOT NULL,
	"network_id" uuid NOT NULL,
	"export_host_id" uuid NOT NULL,
	"export_path" text NOT NULL,
	"upstream_host" text,
	"upstream_path" text,
	"upstream_options" text,
	"vip_id" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "storages_name_unique" UNIQUE("name")
);
--> statement-breakpoint
ALTER TABLE "storage_assignments" ADD CONSTRAINT "storage_assignments_storage_id_storages_id_fk" FOREIGN KEY ("storage_id") REFERENCES "public"."storages"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "storage_assignments" ADD CONSTRAINT "storage_assignments_client_id_instances_id_fk" FOREIGN KEY ("client_id") REFERENCES "public"."instances"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "storages" ADD CONSTRAINT "storages_network_id_networks_id_fk" FOREIGN KEY ("network_id") REFERENCES "public"."networks"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "storages" ADD CONSTRAINT "storages_export_host_id_instances_id_fk" FOREIGN KEY ("export_host_id") REFERENCES "public"."instances"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "storages" ADD CONSTRAINT "storages_vip_id_network_vips_id_fk" FOREIGN KEY ("vip_id") REFERENCES "public"."network_vips"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "storage_assignments_storage_id_client_id_index" ON "storage_assignments" USING btree ("storage_id","client_id");--> statement-breakpoint
CREATE INDEX "storage_assignments_client_id_index" ON "storage_assignments" USING btree ("client_id");