/**
 * Tables behind CSV uploads (drizzle). Kept apart from `schema.ts`; `drizzle.config.ts` lists
 * both, so `npm run db:generate` sees them together.
 */
import { sql } from 'drizzle-orm';
import { check, integer, pgTable, primaryKey, text, timestamp } from 'drizzle-orm/pg-core';

/**
 * One row per committed upload, written in the same statement as the upload's rows: the
 * database's own proof that an upload was applied, which makes a repeated or concurrent
 * commit write nothing more and answer with the recorded counts.
 */
export const uploadCommits = pgTable(
  'upload_commits',
  {
    uploadId: text().primaryKey(),
    type: text({ enum: ['trainer', 'pokemon'] }).notNull(),
    inserted: integer().notNull(),
    updated: integer().notNull(),
    committedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [check('upload_commits_type', sql`${t.type} IN ('trainer', 'pokemon')`)],
);

/**
 * Staged rows of an upload too large for one database request, sent in parts before the
 * single statement that commits them all. Each part holds one Postgres array literal per
 * column. Rows here are not data yet: the commit deletes them, and any a failed commit left
 * behind are deleted by a later commit once a day old.
 */
export const uploadParts = pgTable(
  'upload_parts',
  {
    uploadId: text().notNull(),
    part: integer().notNull(),
    columns: text().array().notNull(),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.uploadId, t.part] })],
);
