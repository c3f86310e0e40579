CREATE TABLE "signing_keys" (
	"id" text PRIMARY KEY NOT NULL,
	"key_pem" text NOT NULL,
	"public_pem" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "module_versions" ADD COLUMN "signature_payload" text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE "module_versions" ADD COLUMN "signature" text DEFAULT '' NOT NULL;