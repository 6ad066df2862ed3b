/**
 * The database schema (drizzle). SQL migrations in `drizzle/` are generated from it with
 * `npm run db:generate`; column names are snake_case, TypeScript names camelCase.
 */
import { sql } from 'drizzle-orm';
import { bigint, check, date, index, integer, pgTable, text, timestamp, uniqueIndex, type AnyPgColumn } from 'drizzle-orm/pg-core';

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
    /** The accepted offer this exchange carried out (A = its `from`, B = its `to`); null for a direct exchange. */
    offerId: text().references((): AnyPgColumn => offers.id),
  },
  (t) => [
    // Keyset pages newest first, overall and per trainer (each side has its own index).
    index('exchanges_created_at_idx').on(t.createdAt, t.id),
    // An offer is carried out at most once, whatever races.
    uniqueIndex('exchanges_offer_id_idx').on(t.offerId),
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
    /**
     * The trainer a `trainer`-scoped key acts as. Deleting the trainer sets it to null in the
     * delete's own statement (the foreign key's action), and a trainer key without a trainer is
     * refused: the key never comes back to life, even if a trainer with that id is created again.
     */
    trainerId: text().references(() => trainers.id, { onDelete: 'set null' }),
  },
  (t) => [
    index('api_keys_created_at_idx').on(t.createdAt, t.id),
    // For the foreign key's ON DELETE: a trainer delete finds its keys without a scan.
    index('api_keys_trainer_id_idx').on(t.trainerId),
    check('api_keys_name_length', sql`char_length(${t.name}) BETWEEN 1 AND 100`),
    check('api_keys_scopes', sql`${t.scopes} <@ ARRAY['read', 'write', 'admin', 'trainer']::text[] AND cardinality(${t.scopes}) > 0`),
    // Only a trainer key has a trainer (a trainer key's may become null when the trainer is deleted).
    check('api_keys_trainer', sql`${t.trainerId} IS NULL OR ${t.scopes} = ARRAY['trainer']::text[]`),
    check(
      'api_keys_rate_limit',
      sql`(${t.rateLimitRequests} IS NULL) = (${t.rateLimitWindowSeconds} IS NULL) AND coalesce(${t.rateLimitRequests} > 0 AND ${t.rateLimitWindowSeconds} > 0, true)`,
    ),
  ],
);

/**
 * A trade one trainer offers another: `from` gives `give` and gets `want` from `to`, if `to`
 * accepts. Never deleted; `status` moves once from `open` to accepted, declined or withdrawn
 * (`expired` is derived: open and past `expiresAt`). Like exchanges, no foreign keys: the record
 * outlives the trainers and Pokémon in it.
 */
export const offers = pgTable(
  'offers',
  {
    /** Server-generated: `of_` and 32 hex digits. */
    id: text().primaryKey(),
    fromId: text().notNull(),
    toId: text().notNull(),
    /** Owned by `from`, going to `to`. */
    give: text().array().notNull(),
    /** Owned by `to`, going to `from`. */
    want: text().array().notNull(),
    status: text({ enum: ['open', 'accepted', 'declined', 'withdrawn'] }).notNull().default('open'),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    expiresAt: timestamp({ withTimezone: true }).notNull(),
    /** When it stopped being open (accepted, declined, withdrawn); null while open. */
    closedAt: timestamp({ withTimezone: true }),
  },
  (t) => [
    // Keyset pages newest first, overall and per trainer on each side.
    index('offers_created_at_idx').on(t.createdAt, t.id),
    index('offers_from_idx').on(t.fromId, t.createdAt, t.id),
    index('offers_to_idx').on(t.toId, t.createdAt, t.id),
    check('offers_status', sql`${t.status} IN ('open', 'accepted', 'declined', 'withdrawn')`),
    check('offers_closed', sql`(${t.status} = 'open') = (${t.closedAt} IS NULL)`),
    check('offers_distinct_trainers', sql`${t.fromId} <> ${t.toId}`),
    check('offers_not_empty', sql`cardinality(${t.give}) + cardinality(${t.want}) > 0`),
    check('offers_expiry', sql`${t.expiresAt} > ${t.createdAt}`),
  ],
);
