CREATE TABLE "physical_devices" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"claim_code" text NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"device_key" text NOT NULL,
	"facts" jsonb NOT NULL,
	"source_address" text NOT NULL,
	"poll_secret_hash" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"instance_id" uuid,
	"decided_at" timestamp with time zone,
	"reject_reason" text,
	"polls" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "physical_devices" ADD CONSTRAINT "physical_devices_instance_id_instances_id_fk" FOREIGN KEY ("instance_id") REFERENCES "public"."instances"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "physical_devices_claim_code_index" ON "physical_devices" USING btree ("claim_code") WHERE "physical_devices"."status" = 'pending';--> statement-breakpoint
CREATE INDEX "physical_devices_device_key_created_at_index" ON "physical_devices" USING btree ("device_key","created_at");