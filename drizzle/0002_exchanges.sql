CREATE TABLE "exchanges" (
	"id" text PRIMARY KEY NOT NULL,
	"trainer_a" text NOT NULL,
	"trainer_b" text NOT NULL,
	"pokemons_a" text[] NOT NULL,
	"pokemons_b" text[] NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "exchanges_distinct_trainers" CHECK ("exchanges"."trainer_a" <> "exchanges"."trainer_b"),
	CONSTRAINT "exchanges_not_empty" CHECK (cardinality("exchanges"."pokemons_a") + cardinality("exchanges"."pokemons_b") > 0)
);
--> statement-breakpoint
CREATE INDEX "exchanges_created_at_idx" ON "exchanges" USING btree ("created_at","id");--> statement-breakpoint
CREATE INDEX "exchanges_trainer_a_idx" ON "exchanges" USING btree ("trainer_a","created_at","id");--> statement-breakpoint
CREATE INDEX "exchanges_trainer_b_idx" ON "exchanges" USING btree ("trainer_b","created_at","id");--> statement-breakpoint
ALTER TABLE "ownership_history" ADD CONSTRAINT "ownership_history_exchange_id_exchanges_id_fk" FOREIGN KEY ("exchange_id") REFERENCES "public"."exchanges"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "ownership_history" ADD CONSTRAINT "ownership_history_exchange" CHECK (("ownership_history"."source" = 'exchanged') = ("ownership_history"."exchange_id" IS NOT NULL));