CREATE TABLE "upload_commits" (
	"upload_id" text PRIMARY KEY NOT NULL,
	"type" text NOT NULL,
	"inserted" integer NOT NULL,
	"updated" integer NOT NULL,
	"committed_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "upload_commits_type" CHECK ("upload_commits"."type" IN ('trainer', 'pokemon'))
);
--> statement-breakpoint
CREATE TABLE "upload_parts" (
	"upload_id" text NOT NULL,
	"part" integer NOT NULL,
	"columns" text[] NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "upload_parts_upload_id_part_pk" PRIMARY KEY("upload_id","part")
);
