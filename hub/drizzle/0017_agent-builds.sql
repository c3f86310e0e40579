CREATE TABLE "agent_builds" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"version" text NOT NULL,
	"arch" text NOT NULL,
	"sha256" text NOT NULL,
	"size" bigint NOT NULL,
	"manifest_digest" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "node_agents" (
	"node_id" uuid PRIMARY KEY NOT NULL,
	"desired_version" text,
	"pid" integer,
	"last_failed_version" text,
	"last_failed_sha256" text,
	"last_failed_reason" text,
	"last_failed_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "node_agents" ADD CONSTRAINT "node_agents_node_id_instances_id_fk" FOREIGN KEY ("node_id") REFERENCES "public"."instances"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "agent_builds_version_arch_index" ON "agent_builds" USING btree ("version","arch");