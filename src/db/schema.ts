/**
 * The database schema (drizzle). SQL migrations in `drizzle/` are generated from it with
 * `npm run db:generate`; column names are snake_case, TypeScript names camelCase.
 */
import { sql } from 'drizzle-orm';
import { check, date, pgTable, text, timestamp } from 'drizzle-orm/pg-core';

const timestamps = {
  createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
};

export const trainers = pgTable(
  'trainers',
  {
    id: text().primaryKey(),
    firstName: text().notNull(),
    lastName: text().notNull(),
    dateOfBirth: date({ mode: 'string' }).notNull(),
    ...timestamps,
  },
  (t) => [check('trainers_id_format', sql`${t.id} ~ '^[A-Za-z0-9_.-]{1,64}$'`)],
);
