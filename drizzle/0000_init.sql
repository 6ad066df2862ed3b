CREATE TABLE "ownership_history" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "ownership_history_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"pokemon_id" text NOT NULL,
	"trainer_id" text NOT NULL,
	"acquired_on" date NOT NULL,
	"source" text NOT NULL,
	"exchange_id" text,
	"recorded_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "ownership_history_source" CHECK ("ownership_history"."source" IN ('created', 'uploaded', 'exchanged'))
);
--> statement-breakpoint
CREATE TABLE "pokemon" (
	"id" text PRIMARY KEY NOT NULL,
	"nickname" text NOT NULL,
	"species_number" integer NOT NULL,
	"level" integer NOT NULL,
	"owner_id" text NOT NULL,
	"date_of_ownership" date NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "pokemon_id_format" CHECK ("pokemon"."id" ~ '^[A-Za-z0-9_.-]{1,64}$'),
	CONSTRAINT "pokemon_nickname_length" CHECK (char_length("pokemon"."nickname") BETWEEN 1 AND 100),
	CONSTRAINT "pokemon_level_range" CHECK ("pokemon"."level" BETWEEN 1 AND 100)
);
--> statement-breakpoint
CREATE TABLE "species" (
	"dex_number" integer PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"slug" text NOT NULL,
	"types" text[] NOT NULL,
	CONSTRAINT "species_name_unique" UNIQUE("name"),
	CONSTRAINT "species_slug_unique" UNIQUE("slug")
);
--> statement-breakpoint
CREATE TABLE "trainers" (
	"id" text PRIMARY KEY NOT NULL,
	"first_name" text NOT NULL,
	"last_name" text NOT NULL,
	"date_of_birth" date NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "trainers_id_format" CHECK ("trainers"."id" ~ '^[A-Za-z0-9_.-]{1,64}$'),
	CONSTRAINT "trainers_first_name_length" CHECK (char_length("trainers"."first_name") BETWEEN 1 AND 100),
	CONSTRAINT "trainers_last_name_length" CHECK (char_length("trainers"."last_name") BETWEEN 1 AND 100)
);
--> statement-breakpoint
ALTER TABLE "ownership_history" ADD CONSTRAINT "ownership_history_pokemon_id_pokemon_id_fk" FOREIGN KEY ("pokemon_id") REFERENCES "public"."pokemon"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "pokemon" ADD CONSTRAINT "pokemon_species_number_species_dex_number_fk" FOREIGN KEY ("species_number") REFERENCES "public"."species"("dex_number") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "pokemon" ADD CONSTRAINT "pokemon_owner_id_trainers_id_fk" FOREIGN KEY ("owner_id") REFERENCES "public"."trainers"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "ownership_history_pokemon_idx" ON "ownership_history" USING btree ("pokemon_id","id");--> statement-breakpoint
CREATE INDEX "pokemon_owner_id_idx" ON "pokemon" USING btree ("owner_id","id");--> statement-breakpoint
CREATE INDEX "pokemon_species_number_idx" ON "pokemon" USING btree ("species_number","id");