CREATE TABLE "api_keys" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"prefix" text NOT NULL,
	"hash" text NOT NULL,
	"scopes" text[] NOT NULL,
	"rate_limit_requests" integer,
	"rate_limit_window_seconds" integer,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone,
	"revoked_at" timestamp with time zone,
	"last_used_at" timestamp with time zone,
	CONSTRAINT "api_keys_hash_unique" UNIQUE("hash"),
	CONSTRAINT "api_keys_name_length" CHECK (char_length("api_keys"."name") BETWEEN 1 AND 100),
	CONSTRAINT "api_keys_scopes" CHECK ("api_keys"."scopes" <@ ARRAY['read', 'write', 'admin']::text[] AND cardinality("api_keys"."scopes") > 0),
	CONSTRAINT "api_keys_rate_limit" CHECK (("api_keys"."rate_limit_requests" IS NULL) = ("api_keys"."rate_limit_window_seconds" IS NULL) AND coalesce("api_keys"."rate_limit_requests" > 0 AND "api_keys"."rate_limit_window_seconds" > 0, true))
);
--> statement-breakpoint
CREATE INDEX "api_keys_created_at_idx" ON "api_keys" USING btree ("created_at","id");