CREATE TABLE "federation_peers" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"role" text NOT NULL,
	"state" text NOT NULL,
	"remote_url" text NOT NULL,
	"remote_hub_name" text DEFAULT '' NOT NULL,
	"remote_ca_pem" text,
	"remote_ca_sha256" text,
	"token_hash" text,
	"token_expires_at" timestamp with time zone,
	"token_used_at" timestamp with time zone,
	"issued_serial" text,
	"issued_not_after" timestamp with time zone,
	"client_cert_pem" text,
	"client_key_pem" text,
	"accepted_at" timestamp with time zone,
	"revoked_at" timestamp with time zone,
	"revoked_reason" text DEFAULT '' NOT NULL,
	"last_seen_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "federation_peers_name_unique" UNIQUE("name"),
	CONSTRAINT "federation_peers_tokenHash_unique" UNIQUE("token_hash"),
	CONSTRAINT "federation_peers_issuedSerial_unique" UNIQUE("issued_serial")
);
--> statement-breakpoint
CREATE INDEX "federation_peers_state_index" ON "federation_peers" USING btree ("state");