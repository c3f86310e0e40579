ALTER TABLE "fleet_events" ADD COLUMN "seq" bigserial NOT NULL;--> statement-breakpoint
CREATE INDEX "fleet_events_seq_index" ON "fleet_events" USING btree ("seq");