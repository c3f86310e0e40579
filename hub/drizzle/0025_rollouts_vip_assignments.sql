CREATE TABLE "module_rollout_nodes" (
	"rollout_id" uuid NOT NULL,
	"node_id" uuid NOT NULL,
	"node_name" text NOT NULL,
	"batch" integer NOT NULL,
	"state" text DEFAULT 'pending' NOT NULL,
	"previous_modules" jsonb,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	"error" text,
	CONSTRAINT "module_rollout_nodes_rollout_id_node_id_pk" PRIMARY KEY("rollout_id","node_id")
);
--> statement-breakpoint
CREATE TABLE "module_rollouts" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"template_id" uuid NOT NULL,
	"template_name" text NOT NULL,
	"module" text NOT NULL,
	"from_version" text NOT NULL,
	"to_version" text NOT NULL,
	"batch_percent" integer NOT NULL,
	"batch_count" integer NOT NULL,
	"current_batch" integer DEFAULT 0 NOT NULL,
	"batch_timeout_seconds" integer NOT NULL,
	"state" text DEFAULT 'running' NOT NULL,
	"error" text,
	"batch_started_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "vip_assignments" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"vip_id" uuid NOT NULL,
	"from_member_id" uuid,
	"to_member_id" uuid NOT NULL,
	"reason" text NOT NULL,
	"correlation_id" text DEFAULT '' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "instances" ADD COLUMN "module_observations" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "instances" ADD COLUMN "module_observations_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "module_rollout_nodes" ADD CONSTRAINT "module_rollout_nodes_rollout_id_module_rollouts_id_fk" FOREIGN KEY ("rollout_id") REFERENCES "public"."module_rollouts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "module_rollout_nodes" ADD CONSTRAINT "module_rollout_nodes_node_id_instances_id_fk" FOREIGN KEY ("node_id") REFERENCES "public"."instances"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "module_rollouts" ADD CONSTRAINT "module_rollouts_template_id_templates_id_fk" FOREIGN KEY ("template_id") REFERENCES "public"."templates"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "vip_assignments" ADD CONSTRAINT "vip_assignments_vip_id_network_vips_id_fk" FOREIGN KEY ("vip_id") REFERENCES "public"."network_vips"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "module_rollout_nodes_node_id_index" ON "module_rollout_nodes" USING btree ("node_id");--> statement-breakpoint
CREATE UNIQUE INDEX "module_rollouts_running_template_key" ON "module_rollouts" USING btree ("template_id") WHERE "module_rollouts"."state" = 'running';--> statement-breakpoint
CREATE INDEX "module_rollouts_state_index" ON "module_rollouts" USING btree ("state");--> statement-breakpoint
CREATE INDEX "vip_assignments_vip_id_created_at_index" ON "vip_assignments" USING btree ("vip_id","created_at");