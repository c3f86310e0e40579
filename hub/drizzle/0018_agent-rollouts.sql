CREATE TABLE "agent_rollout_steps" (
	"rollout_id" uuid NOT NULL,
	"position" integer NOT NULL,
	"node_id" uuid NOT NULL,
	"node_name" text NOT NULL,
	"state" text DEFAULT 'pending' NOT NULL,
	"from_version" text,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	"error" text,
	CONSTRAINT "agent_rollout_steps_rollout_id_position_pk" PRIMARY KEY("rollout_id","position")
);
--> statement-breakpoint
CREATE TABLE "agent_rollouts" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"template_id" uuid NOT NULL,
	"template_name" text NOT NULL,
	"version" text NOT NULL,
	"state" text DEFAULT 'running' NOT NULL,
	"max_failures" integer DEFAULT 0 NOT NULL,
	"failures" integer DEFAULT 0 NOT NULL,
	"step_timeout_seconds" integer NOT NULL,
	"error" text,
	"finished_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "agent_rollout_steps" ADD CONSTRAINT "agent_rollout_steps_rollout_id_agent_rollouts_id_fk" FOREIGN KEY ("rollout_id") REFERENCES "public"."agent_rollouts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "agent_rollout_steps" ADD CONSTRAINT "agent_rollout_steps_node_id_instances_id_fk" FOREIGN KEY ("node_id") REFERENCES "public"."instances"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "agent_rollouts" ADD CONSTRAINT "agent_rollouts_template_id_templates_id_fk" FOREIGN KEY ("template_id") REFERENCES "public"."templates"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "agent_rollout_steps_rollout_id_node_id_index" ON "agent_rollout_steps" USING btree ("rollout_id","node_id");--> statement-breakpoint
CREATE UNIQUE INDEX "agent_rollouts_running_template_key" ON "agent_rollouts" USING btree ("template_id") WHERE "agent_rollouts"."state" = 'running';--> statement-breakpoint
CREATE INDEX "agent_rollouts_state_index" ON "agent_rollouts" USING btree ("state");