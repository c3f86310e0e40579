CREATE TABLE "registries" (
	"host" text PRIMARY KEY NOT NULL,
	"url" text NOT NULL,
	"node_url" text,
	"mirror_of" text,
	"priority" integer DEFAULT 0 NOT NULL,
	"username" text,
	"secret" text,
	"ca_pem" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "module_versions" ADD COLUMN "origin" text DEFAULT '' NOT NULL;