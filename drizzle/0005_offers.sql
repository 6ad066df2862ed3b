CREATE TABLE "offers" (
	"id" text PRIMARY KEY NOT NULL,
	"from_id" text NOT NULL,
	"to_id" text NOT NULL,
	"give" text[] NOT NULL,
	"want" text[] NOT NULL,
	"status" text DEFAULT 'open' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"closed_at" timestamp with time zone,
	CONSTRAINT "offers_status" CHECK ("offers"."status" IN ('open', 'accepted', 'declined', 'withdrawn')),
	CONSTRAINT "offers_closed" CHECK (("offers"."status" = 'open') = ("offers"."closed_at" IS NULL)),
	CONSTRAINT "offers_distinct_trainers" CHECK ("offers"."from_id" <> "offers"."to_id"),
	CONSTRAINT "offers_not_empty" CHECK (cardinality("offers"."give") + cardinality("offers"."want") > 0),
	CONSTRAINT "offers_expiry" CHECK ("offers"."expires_at" > "offers"."created_at")
);
--> statement-breakpoint
ALTER TABLE "api_keys" DROP CONSTRAINT "api_keys_scopes";--> statement-breakpoint
ALTER TABLE "api_keys" ADD COLUMN "trainer_id" text;--> statement-breakpoint
ALTER TABLE "exchanges" ADD COLUMN "offer_id" text;--> statement-breakpoint
CREATE INDEX "offers_created_at_idx" ON "offers" USING btree ("created_at","id");--> statement-breakpoint
CREATE INDEX "offers_from_idx" ON "offers" USING btree ("from_id","created_at","id");--> statement-breakpoint
CREATE INDEX "offers_to_idx" ON "offers" USING btree ("to_id","created_at","id");--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_trainer_id_trainers_id_fk" FOREIGN KEY ("trainer_id") REFERENCES "public"."trainers"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "exchanges" ADD CONSTRAINT "exchanges_offer_id_offers_id_fk" FOREIGN KEY ("offer_id") REFERENCES "public"."offers"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "api_keys_trainer_id_idx" ON "api_keys" USING btree ("trainer_id");--> statement-breakpoint
CREATE UNIQUE INDEX "exchanges_offer_id_idx" ON "exchanges" USING btree ("offer_id");--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_trainer" CHECK ("api_keys"."trainer_id" IS NULL OR "api_keys"."scopes" = ARRAY['trainer']::text[]);--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_scopes" CHECK ("api_keys"."scopes" <@ ARRAY['read', 'write', 'admin', 'trainer']::text[] AND cardinality("api_keys"."scopes") > 0);