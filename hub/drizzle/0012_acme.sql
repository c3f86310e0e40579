CREATE TYPE "public"."acme_certificate_status" AS ENUM('pending', 'valid', 'failed');--> statement-breakpoint
CREATE TYPE "public"."acme_certificate_version_state" AS ENUM('active', 'retiring');--> statement-breakpoint
CREATE TABLE "acme_accounts" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"directory_url" text NOT NULL,
	"email" text,
	"account_url" text,
	"key_pem" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "acme_accounts_directoryUrl_unique" UNIQUE("directory_url")
);
--> statement-breakpoint
CREATE TABLE "acme_certificate_versions" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"certificate_id" uuid NOT NULL,
	"state" "acme_certificate_version_state" NOT NULL,
	"serial" text NOT NULL,
	"cert_pem" text NOT NULL,
	"chain_pem" text NOT NULL,
	"key_pem" text NOT NULL,
	"not_before" timestamp with time zone NOT NULL,
	"not_after" timestamp with time zone NOT NULL,
	"retire_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "acme_certificates" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"domains" jsonb NOT NULL,
	"dns_provider_id" uuid NOT NULL,
	"status" "acme_certificate_status" DEFAULT 'pending' NOT NULL,
	"renew_after" timestamp with time zone,
	"renew_after_source" text,
	"failures" integer DEFAULT 0 NOT NULL,
	"last_error" text,
	"failed_step" text,
	"next_attempt_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "acme_certificates_name_unique" UNIQUE("name")
);
--> statement-breakpoint
CREATE TABLE "dns_providers" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"type" text NOT NULL,
	"settings" jsonb NOT NULL,
	"secret" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "dns_providers_name_unique" UNIQUE("name")
);
--> statement-breakpoint
ALTER TABLE "acme_certificate_versions" ADD CONSTRAINT "acme_certificate_versions_certificate_id_acme_certificates_id_fk" FOREIGN KEY ("certificate_id") REFERENCES "public"."acme_certificates"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "acme_certificates" ADD CONSTRAINT "acme_certificates_dns_provider_id_dns_providers_id_fk" FOREIGN KEY ("dns_provider_id") REFERENCES "public"."dns_providers"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "acme_certificate_versions_certificate_idx" ON "acme_certificate_versions" USING btree ("certificate_id");