/**
 * Pokémon: the SQL behind the Pokémon routes. Each function is one database round trip:
 * existence checks, the write and its ownership-history row share one statement.
 */
import { and, asc, eq, gt, gte, lte, sql, type SQL } from 'drizzle-orm';
import { ownershipHistory, pokemon, species, trainers } from '../db/schema.ts';
import type { Database } from '../platform/database.ts';
import { speciesMatch, suggestionsSql, type SpeciesRef } from './species.ts';
import { stillAt, type Version } from './versions.ts';
import { existsWhere, pageWithFlag } from './page-with-flag.ts';

export interface SpeciesSummary {
  dexNumber: number;
  name: string;
  types: string[];
}

export interface Pokemon {
  id: string;
  nickname: string;
  species: SpeciesSummary;
  level: number;
  owner: string;
  dateOfOwnership: string;
  createdAt: string;
  updatedAt: string;
}

export interface NewPokemon {
  id: string;
  nickname: string;
  species: SpeciesRef;
  level: number;
  owner: string;
  dateOfOwnership: string;
}

export type PokemonChanges = Partial<Pick<NewPokemon, 'nickname' | 'species' | 'level'>>;

/** Pokémon joined to their species, with the columns every Pokémon read returns. */
function selectPokemon(db: Database) {
  return db
    .select({
      id: pokemon.id,
      nickname: pokemon.nickname,
      level: pokemon.level,
      ownerId: pokemon.ownerId,
      dateOfOwnership: pokemon.dateOfOwnership,
      createdAt: pokemon.createdAt,
      updatedAt: pokemon.updatedAt,
      dexNumber: species.dexNumber,
      speciesName: species.name,
      types: species.types,
    })
    .from(pokemon)
    .innerJoin(species, eq(species.dexNumber, pokemon.speciesNumber));
}

type PokemonRow = Awaited<ReturnType<typeof selectPokemon>>[number];

/** The API shape of a Pokémon row. */
function toPokemon(row: PokemonRow): Pokemon {
  return {
    id: row.id,
    nickname: row.nickname,
    species: { dexNumber: row.dexNumber, name: row.speciesName, types: row.types },
    level: row.level,
    owner: row.ownerId,
    dateOfOwnership: row.dateOfOwnership,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

/**
 * The same columns in the raw write statements (`p` the written pokemon row, `s` its species),
 * named as {@link selectPokemon} names them; timestamps arrive as text.
 */
const STATEMENT_COLUMNS = sql.raw(
  'p.id, p.nickname, p.level, p.owner_id AS "ownerId", p.date_of_ownership AS "dateOfOwnership", p.created_at AS "createdAt", ' +
    'p.updated_at AS "updatedAt", s.dex_number AS "dexNumber", s.name AS "speciesName", s.types',
);

type StatementRow = Omit<PokemonRow, 'createdAt' | 'updatedAt'> & { createdAt: string; updatedAt: string };

function statementToPokemon(row: StatementRow): Pokemon {
  return toPokemon({ ...row, createdAt: new Date(row.createdAt), updatedAt: new Date(row.updatedAt) });
}

export type CreatePokemonResult =
  | { status: 'created'; pokemon: Pokemon }
  | { status: 'id-taken' }
  /** `ownerBornOn`: the owner's date of birth, when `dateOfOwnership` is before it. */
  | { status: 'invalid'; ownerMissing: boolean; speciesMissing: boolean; ownerBornOn?: string | undefined; suggestions: string[] };

/** Inserts a Pokémon and its first ownership-history row, or says why it could not. */
export async function createPokemon(db: Database, input: NewPokemon): Promise<CreatePokemonResult> {
  const { rows } = await db.execute<StatementRow & { id_taken: boolean; owner_found: boolean; species_found: boolean; owner_born: string | null; suggestions: string[] | null }>(sql`
    WITH s AS (SELECT dex_number, name, types FROM species WHERE ${speciesMatch(input.species)}),
    -- FOR SHARE (not KEY SHARE): a concurrent change of the owner's date of birth waits for this insert, and sees it.
    owner AS (SELECT id, date_of_birth FROM trainers WHERE id = ${input.owner} FOR SHARE),
    p AS (
      INSERT INTO pokemon (id, nickname, species_number, level, owner_id, date_of_ownership)
      SELECT ${input.id}, ${input.nickname}, s.dex_number, ${input.level}, owner.id, ${input.dateOfOwnership} FROM s, owner
      WHERE owner.date_of_birth <= ${input.dateOfOwnership}::date
      ON CONFLICT (id) DO NOTHING
      RETURNING *
    ),
    history AS (
      INSERT INTO ownership_history (pokemon_id, trainer_id, acquired_on, source)
      SELECT id, owner_id, date_of_ownership, 'created' FROM p
    )
    SELECT EXISTS (SELECT 1 FROM pokemon WHERE id = ${input.id}) AS id_taken,
           EXISTS (SELECT 1 FROM owner) AS owner_found,
           (SELECT date_of_birth::text FROM owner WHERE date_of_birth > ${input.dateOfOwnership}::date) AS owner_born,
           EXISTS (SELECT 1 FROM s) AS species_found,
           ${suggestionsSql(input.species, sql`NOT EXISTS (SELECT 1 FROM s)`)} AS suggestions,
           created.*
    FROM (SELECT 1) AS one LEFT JOIN (SELECT ${STATEMENT_COLUMNS} FROM p, s) AS created ON true`);
  const row = rows[0]!;
  if (row.id !== null) return { status: 'created', pokemon: statementToPokemon(row) };
  // Owner, species and dates fine but nothing inserted: the id was taken, possibly a moment ago.
  if (row.id_taken || (row.owner_found && row.species_found && row.owner_born === null)) return { status: 'id-taken' };
  return {
    status: 'invalid',
    ownerMissing: !row.owner_found,
    speciesMissing: !row.species_found,
    ownerBornOn: row.owner_born ?? undefined,
    suggestions: row.suggestions ?? [],
  };
}

/**
 * Whether the owner and species a Pokémon would name exist (each checked only when given), in
 * one round trip: a body with other invalid fields still learns these, in the same answer.
 */
export async function checkReferences(
  db: Database,
  refs: { owner?: string | undefined; species?: SpeciesRef | undefined },
): Promise<{ ownerMissing: boolean; speciesMissing: boolean; suggestions: string[] }> {
  const ownerMissing = refs.owner === undefined ? sql`false` : sql`NOT EXISTS (SELECT 1 FROM trainers WHERE id = ${refs.owner})`;
  const speciesMissing = refs.species === undefined ? sql`false` : sql`NOT EXISTS (SELECT 1 FROM species WHERE ${speciesMatch(refs.species)})`;
  const { rows } = await db.execute<{ owner_missing: boolean; species_missing: boolean; suggestions: string[] | null }>(sql`
    SELECT ${ownerMissing} AS owner_missing, ${speciesMissing} AS species_missing,
           ${refs.species === undefined ? sql`NULL` : suggestionsSql(refs.species, speciesMissing)} AS suggestions`);
  const row = rows[0]!;
  return { ownerMissing: row.owner_missing, speciesMissing: row.species_missing, suggestions: row.suggestions ?? [] };
}

export interface PokemonFilters {
  owner?: string | undefined;
  species?: SpeciesRef | undefined;
  minLevel?: number | undefined;
  maxLevel?: number | undefined;
}

/** The filters (and the keyset position) as one condition; `undefined` when there are none. */
function filtersWhere(filters: PokemonFilters, after: string | undefined): SQL | undefined {
  return and(
    filters.owner === undefined ? undefined : eq(pokemon.ownerId, filters.owner),
    filters.species === undefined ? undefined : speciesMatch(filters.species),
    filters.minLevel === undefined ? undefined : gte(pokemon.level, filters.minLevel),
    filters.maxLevel === undefined ? undefined : lte(pokemon.level, filters.maxLevel),
    after === undefined ? undefined : gt(pokemon.id, after),
  );
}

interface PageOptions {
  limit: number;
  after?: string | undefined;
}

/** The query for a page of Pokémon ordered by id. */
function pokemonPage(db: Database, filters: PokemonFilters, page: PageOptions) {
  return selectPokemon(db)
    .where(filtersWhere(filters, page.after))
    .orderBy(asc(pokemon.id))
    .limit(page.limit + 1);
}

/** A page of Pokémon ordered by id (`limit + 1` rows, to tell whether another page follows). */
export async function listPokemon(db: Database, filters: PokemonFilters, page: PageOptions): Promise<Pokemon[]> {
  return (await pokemonPage(db, filters, page)).map(toPokemon);
}

/** A trainer's Pokémon page, or `undefined` when there is no such trainer (one statement). */
export async function listTrainerPokemon(db: Database, owner: string, page: PageOptions): Promise<Pokemon[] | undefined> {
  const owned = pokemonPage(db, { owner }, page).as('page');
  const { flag: trainerFound, rows } = await pageWithFlag(db, existsWhere(db, trainers, eq(trainers.id, owner)), (head) =>
    head.leftJoin(owned, sql`true`).orderBy(asc(owned.id)),
  );
  return trainerFound ? rows.map(toPokemon) : undefined;
}

/** One Pokémon with its species, or `undefined`. */
export async function getPokemon(db: Database, id: string): Promise<Pokemon | undefined> {
  const [row] = await selectPokemon(db).where(eq(pokemon.id, id));
  return row && toPokemon(row);
}

export type UpdatePokemonResult =
  | { status: 'updated'; pokemon: Pokemon }
  | { status: 'not-found' }
  | { status: 'not-owner'; owner: string | null }
  /** It is no longer the `version` the write was made conditional on. */
  | { status: 'changed' }
  | { status: 'unknown-species'; suggestions: string[] };

/**
 * Changes nickname, level and/or species in one statement. With `ownedBy` (a trainer key) the
 * statement changes the row only if that trainer owns it, and reports the owner, so "not yours"
 * and "no such Pokémon" come from the same statement.
 */
export async function updatePokemon(db: Database, id: string, changes: PokemonChanges, ownedBy?: string, version?: Version): Promise<UpdatePokemonResult> {
  const { rows } = await db.execute<StatementRow & { found: boolean; owner: string | null; species_ok: boolean; suggestions: string[] | null }>(sql`
    WITH wanted AS (SELECT dex_number FROM species WHERE ${changes.species === undefined ? sql`false` : speciesMatch(changes.species)}),
    species_ok AS (SELECT ${changes.species === undefined ? sql`true` : sql`false`} OR EXISTS (SELECT 1 FROM wanted) AS ok),
    p AS (
      UPDATE pokemon SET
        nickname = coalesce(${changes.nickname ?? null}::text, nickname),
        level = coalesce(${changes.level ?? null}::int, level),
        species_number = coalesce((SELECT dex_number FROM wanted), species_number),
        updated_at = now()
      WHERE id = ${id} AND (SELECT ok FROM species_ok) AND owner_id = coalesce(${ownedBy ?? null}::text, owner_id) AND ${stillAt(sql`updated_at`, version)}
      RETURNING *
    )
    SELECT EXISTS (SELECT 1 FROM pokemon WHERE id = ${id}) AS found,
           (SELECT owner_id FROM pokemon WHERE id = ${id}) AS owner,
           (SELECT ok FROM species_ok) AS species_ok,
           ${suggestionsSql(changes.species ?? '', sql`NOT (SELECT ok FROM species_ok)`)} AS suggestions,
           updated.*
    FROM (SELECT 1) AS one LEFT JOIN (SELECT ${STATEMENT_COLUMNS} FROM p JOIN species s ON s.dex_number = p.species_number) AS updated ON true`);
  const row = rows[0]!;
  if (row.id !== null) return { status: 'updated', pokemon: statementToPokemon(row) };
  if (!row.found) return { status: 'not-found' };
  // Someone else's (or traded away while the statement ran: the lock re-read its owner).
  if (ownedBy !== undefined && row.owner !== ownedBy) return { status: 'not-owner', owner: row.owner };
  // Species fine and the caller's, but nothing updated: changed (or gone) since the version the write was conditional on…
  if (version !== undefined && row.species_ok) return { status: 'changed' };
  if (ownedBy !== undefined && row.species_ok) return { status: 'not-owner', owner: row.owner };
  // …or, unconditionally, gone (perhaps deleted a moment ago).
  if (row.species_ok) return { status: 'not-found' };
  return { status: 'unknown-species', suggestions: row.suggestions ?? [] };
}

/**
 * Deletes a Pokémon (its history goes with it). With `ownedBy` (a trainer key) only if that
 * trainer owns it; the owner found is reported from the same statement.
 */
export async function deletePokemon(
  db: Database,
  id: string,
  ownedBy?: string,
  version?: Version,
): Promise<{ status: 'deleted' } | { status: 'not-found' } | { status: 'changed' } | { status: 'not-owner'; owner: string }> {
  const { rows } = await db.execute<{ deleted: boolean; owner: string | null }>(sql`
    WITH deleted AS (
      DELETE FROM pokemon WHERE id = ${id} AND owner_id = coalesce(${ownedBy ?? null}::text, owner_id) AND ${stillAt(sql`updated_at`, version)} RETURNING id
    )
    SELECT EXISTS (SELECT 1 FROM deleted) AS deleted, (SELECT owner_id FROM pokemon WHERE id = ${id}) AS owner`);
  const row = rows[0]!;
  if (row.deleted) return { status: 'deleted' };
  if (row.owner === null) return { status: 'not-found' };
  if (ownedBy !== undefined && row.owner !== ownedBy) return { status: 'not-owner', owner: row.owner };
  // There, the caller's, yet not deleted: changed since the version it was conditional on, or deleted or traded away meanwhile.
  return version !== undefined ? { status: 'changed' } : ownedBy === undefined ? { status: 'not-found' } : { status: 'not-owner', owner: row.owner };
}

export interface OwnershipRecord {
  trainer: string;
  acquiredOn: string;
  source: 'created' | 'uploaded' | 'exchanged';
  exchangeId: string | null;
  recordedAt: string;
}

/** A Pokémon's owners, oldest first, or `undefined` when there is no such Pokémon. */
export async function getOwnershipHistory(db: Database, id: string): Promise<OwnershipRecord[] | undefined> {
  const history = db
    .select({
      id: ownershipHistory.id,
      trainerId: ownershipHistory.trainerId,
      acquiredOn: ownershipHistory.acquiredOn,
      source: ownershipHistory.source,
      exchangeId: ownershipHistory.exchangeId,
      recordedAt: ownershipHistory.recordedAt,
    })
    .from(ownershipHistory)
    .where(eq(ownershipHistory.pokemonId, id))
    .as('page');
  const { flag: found, rows } = await pageWithFlag(db, existsWhere(db, pokemon, eq(pokemon.id, id)), (head) =>
    head.leftJoin(history, sql`true`).orderBy(asc(history.id)),
  );
  if (!found) return undefined;
  return rows.map((row) => ({
    trainer: row.trainerId,
    acquiredOn: row.acquiredOn,
    source: row.source,
    exchangeId: row.exchangeId,
    recordedAt: row.recordedAt.toISOString(),
  }));
}
