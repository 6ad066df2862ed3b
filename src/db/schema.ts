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
 * One finished trade between two trainers. The trainer and Pokémon ids have no foreign keys
 * on purpose: like ownership history, the record of a trade outlives the trainers and Pokémon
 * in it (and an array column could not carry one anyway). Rows are never updated or deleted.
 */
export const exchanges = pgTable(
  'exchanges',
  {
    /** Server-generated: `ex_` and 32 random hex digits. */
    id: text().primaryKey(),
    trainerA: text().notNull(),
    trainerB: text().notNull(),
    /** Went from A to B. */
    pokemonsA: text().array().notNull(),
    /** Went from B to A. */
    pokemonsB: text().array().notNull(),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    // Keyset pages newest first, overall and per trainer (each side has its own index).
    index('exchanges_created_at_idx').on(t.createdAt, t.id),
    index('exchanges_trainer_a_idx').on(t.trainerA, t.createdAt, t.id),
    index('exchanges_trainer_b_idx').on(t.trainerB, t.createdAt, t.id),
    check('exchanges_distinct_trainers', sql`${t.trainerA} <> ${t.trainerB}`),
    check('exchanges_not_empty', sql`cardinality(${t.pokemonsA}) + cardinality(${t.pokemonsB}) > 0`),
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
    exchangeId: text().references(() => exchanges.id),
    recordedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index('ownership_history_pokemon_idx').on(t.pokemonId, t.id),
    check('ownership_history_source', sql`${t.source} IN ('created', 'uploaded', 'exchanged')`),
    // Exactly the rows written by an exchange point at it.
    check('ownership_history_exchange', sql`(${t.source} = 'exchanged') = (${t.exchangeId} IS NOT NULL)`),
  ],
);

/**
 * API keys. The key itself is never stored: only its SHA-256 (`hash`), and its first characters
 * (`prefix`) so a person can tell keys apart. Rows are never deleted: revoking sets `revokedAt`.
 */
export const apiKeys = pgTable(
  'api_keys',
  {
    /** Server-generated: `key_` and 24 hex digits. */
    id: text().primaryKey(),
    name: text().notNull(),
    prefix: text().notNull(),
    hash: text().notNull().unique(),
    scopes: text().array().notNull(),
    /** Requests per window; both null: the deployment's default limit. */
    rateLimitRequests: integer(),
    rateLimitWindowSeconds: integer(),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    expiresAt: timestamp({ withTimezone: true }),
    revokedAt: timestamp({ withTimezone: true }),
    /** Refreshed when an isolate verifies the key against the database (not on every request). */
    lastUsedAt: timestamp({ withTimezone: true }),
  },
  (t) => [
    index('api_keys_created_at_idx').on(t.createdAt, t.id),
    check('api_keys_name_length', sql`char_length(${t.name}) BETWEEN 1 AND 100`),
    check('api_keys_scopes', sql`${t.scopes} <@ ARRAY['read', 'write', 'admin']::text[] AND cardinality(${t.scopes}) > 0`),
    check(
      'api_keys_rate_limit',
      sql`(${t.rateLimitRequests} IS NULL) = (${t.rateLimitWindowSeconds} IS NULL) AND coalesce(${t.rateLimitRequests} > 0 AND ${t.rateLimitWindowSeconds} > 0, true)`,
    ),
  ],
);
