CREATE TABLE "disk_image_publications" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"webhook_id" uuid,
	"platform" text NOT NULL,
	"git_sha" text NOT NULL,
	"sha256" text NOT NULL,
	"size_bytes" bigint NOT NULL,
	"oci_ref" text NOT NULL,
	"firmware_ref" text DEFAULT '' NOT NULL,
	"arch" text NOT NULL,
	"status" text DEFAULT 'queued' NOT NULL,
	"error_message" text,
	"verified_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "disk_image_webhooks" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"secret" text NOT NULL,
	"secret_preview" text NOT NULL,
	"status" text DEFAULT 'active' NOT NULL,
	"received_count" bigint DEFAULT 0 NOT NULL,
	"last_received_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "disk_image_webhooks_name_unique" UNIQUE("name")
);
--> statement-breakpoint
ALTER TABLE "disk_image_publications" ADD CONSTRAINT "disk_image_publications_webhook_id_disk_image_webhooks_id_fk" FOREIGN KEY ("webhook_id") REFERENCES "public"."disk_image_webhooks"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "disk_image_publications_platform_git_sha_index" ON "disk_image_publications" USING btree ("platform","git_sha");--> statement-breakpoint
CREATE INDEX "disk_image_publications_status_index" ON "disk_image_publications" USING btree ("status");