ALTER TABLE "network_members" ALTER COLUMN "instance_id" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "network_members" ADD COLUMN "operator_name" text;--> statement-breakpoint
CREATE UNIQUE INDEX "network_members_network_id_operator_name_index" ON "network_members" USING btree ("network_id","operator_name");--> statement-breakpoint
ALTER TABLE "network_members" ADD CONSTRAINT "network_members_node_or_operator" CHECK (("network_members"."instance_id" is null) <> ("network_members"."operator_name" is null));