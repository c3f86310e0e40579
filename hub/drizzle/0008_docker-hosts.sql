CREATE TYPE "public"."docker_host_status" AS ENUM('pending', 'connected', 'disconnected');--> statement-breakpoint
CREATE TABLE "docker_hosts" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"instance_id" uuid NOT NULL,
	"network_id" uuid NOT NULL,
	"listen_address" text NOT NULL,
	"api_endpoint" text NOT NULL,
	"status" "docker_host_status" DEFAULT 'pending' NOT NULL,
	"managed" boolean DEFAULT true NOT NULL,
	"docker_version" text,
	"daemon_ready_at" timestamp with time zone,
	"daemon_cert_serial" text,
	"daemon_cert_not_after" timestamp with time zone,
	"client_cert_pem" text NOT NULL,
	"client_key_pem" text NOT NULL,
	"client_cert_serial" text NOT NULL,
	"client_cert_not_after" timestamp with time zone NOT NULL,
	"last_error" text,
	"last_report_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "docker_hosts_instanceId_unique" UNIQUE("instance_id")
);
--> statement-breakpoint
ALTER TABLE "docker_hosts" ADD CONSTRAINT "docker_hosts_instance_id_instances_id_fk" FOREIGN KEY ("instance_id") REFERENCES "public"."instances"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "docker_hosts" ADD CONSTRAINT "docker_hosts_network_id_networks_id_fk" FOREIGN KEY ("network_id") REFERENCES "public"."networks"("id") ON DELETE cascade ON UPDATE no action;