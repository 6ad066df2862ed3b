/**
 * The database schema (drizzle). SQL migrations in `drizzle/` are generated from it with
 * `npm run db:generate`; column names are snake_case, TypeScript names camelCase.
 */
import { sql } from 'drizzle-orm';
import { bigint, check, date, index, integer, pgTable, text, timestamp } from 'drizzle-orm/pg-core';

/** Client-chosen ids: 1–64 characters of `A-Z a-z 0-9 _ . -`. */
const ID_PATTERN = '^[A-Za-z0-9_.-]{1,64}$';

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
  (t) => [
    check('trainers_id_format', sql`${t.id} ~ '${sql.raw(ID_PATTERN)}'`),
    check('trainers_first_name_length', sql`char_length(${t.firstName}) BETWEEN 1 AND 100`),
    check('trainers_last_name_length', sql`char_length(${t.lastName}) BETWEEN 1 AND 100`),
  ],
);

/** The national Pokédex, loaded by a migration generated from @pkmn/dex (`npm run db:species`). */
export const species = pgTable('species', {
  dexNumber: integer().primaryKey(),
  name: text().notNull().unique(),
  /** Lower-case letters and digits only (`mrmime`): how user input is matched. */
  slug: text().notNull().unique(),
  types: text().array().notNull(),
});

export const pokemon = pgTable(
  'pokemon',
  {
    id: text().primaryKey(),
    nickname: text().notNull(),
    speciesNumber: integer()
      .notNull()
      .references(() => species.dexNumber),
    level: integer().notNull(),
    ownerId: text()
      .notNull()
      .references(() => trainers.id),
    dateOfOwnership: date({ mode: 'string' }).notNull(),
    ...timestamps,
  },
  (t) => [
    index('pokemon_owner_id_idx').on(t.ownerId, t.id),
    index('pokemon_species_number_idx').on(t.speciesNumber, t.id),
    check('pokemon_id_format', sql`${t.id} ~ '${sql.raw(ID_PATTERN)}'`),
    check('pokemon_nickname_length', sql`char_length(${t.nickname}) BETWEEN 1 AND 100`),
    check('pokemon_level_range', sql`${t.level} BETWEEN 1 AND 100`),
  ],
);

/**
 * One row each time a Pokémon gets an owner. `trainerId` has no foreign key on purpose:
 * history outlives a deleted trainer.
 */
export const ownershipHistory = pgTable(
  'ownership_history',
  {
    id: bigint({ mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    pokemonId: text()
      .notNull()
      .references(() => pokemon.id, { onDelete: 'cascade' }),
    trainerId: text().notNull(),
    acquiredOn: date({ mode: 'string' }).notNull(),
    source: text({ enum: ['created', 'uploaded', 'exchanged'] }).notNull(),
    exchangeId: text(),
    recordedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index('ownership_history_pokemon_idx').on(t.pokemonId, t.id),
    check('ownership_history_source', sql`${t.source} IN ('created', 'uploaded', 'exchanged')`),
  ],
);
