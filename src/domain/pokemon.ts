/**
 * Pokémon: the SQL behind the Pokémon routes. Each function is one database round trip:
 * existence checks, the write and its ownership-history row share one statement.
 */
import { sql, type SQL } from 'drizzle-orm';
import type { Database } from '../platform/database.ts';
import { speciesSlug } from './fields.ts';

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
  species: string;
  level: number;
  owner: string;
  dateOfOwnership: string;
}

export type PokemonChanges = Partial<Pick<NewPokemon, 'nickname' | 'species' | 'level'>>;

/** A row selected with {@link POKEMON_COLUMNS}. */
type PokemonRow = {
  id: string;
  nickname: string;
  level: number;
  owner_id: string;
  date_of_ownership: string;
  created_at: string;
  updated_at: string;
  dex_number: number;
  species_name: string;
  types: string[];
};

/** The columns every Pokémon read returns; `p` is the pokemon row, `s` its species. */
const POKEMON_COLUMNS = sql.raw(
  'p.id, p.nickname, p.level, p.owner_id, p.date_of_ownership, p.created_at, p.updated_at, s.dex_number, s.name AS species_name, s.types',
);

/** The API shape of a Pokémon row. */
function toPokemon(row: PokemonRow): Pokemon {
  return {
    id: row.id,
    nickname: row.nickname,
    species: { dexNumber: row.dex_number, name: row.species_name, types: row.types },
    level: row.level,
    owner: row.owner_id,
    dateOfOwnership: row.date_of_ownership,
    createdAt: new Date(row.created_at).toISOString(),
    updatedAt: new Date(row.updated_at).toISOString(),
  };
}

/** Up to three species names closest to `slug`, for "did you mean" (only computed when `missing`). */
function suggestionsSql(slug: string, missing: SQL): SQL {
  return sql`CASE WHEN ${missing} THEN (
    SELECT coalesce(array_agg(name ORDER BY distance, dex_number), '{}') FROM (
      SELECT name, dex_number, edit_distance(slug, ${slug}) AS distance FROM species ORDER BY distance, dex_number LIMIT 3
    ) closest WHERE distance <= greatest(2, length(${slug}) / 2)
  ) END`;
}

export type CreatePokemonResult =
  | { status: 'created'; pokemon: Pokemon }
  | { status: 'id-taken' }
  | { status: 'invalid'; ownerMissing: boolean; speciesMissing: boolean; suggestions: string[] };

/** Inserts a Pokémon and its first ownership-history row, or says why it could not. */
export async function createPokemon(db: Database, input: NewPokemon): Promise<CreatePokemonResult> {
  const slug = speciesSlug(input.species);
  const { rows } = await db.execute<PokemonRow & { id_taken: boolean; owner_found: boolean; species_found: boolean; suggestions: string[] | null }>(sql`
    WITH s AS (SELECT dex_number, name, types FROM species WHERE slug = ${slug}),
    owner AS (SELECT id FROM trainers WHERE id = ${input.owner} FOR KEY SHARE),
    p AS (
      INSERT INTO pokemon (id, nickname, species_number, level, owner_id, date_of_ownership)
      SELECT ${input.id}, ${input.nickname}, s.dex_number, ${input.level}, owner.id, ${input.dateOfOwnership} FROM s, owner
      ON CONFLICT (id) DO NOTHING
      RETURNING *
    ),
    history AS (
      INSERT INTO ownership_history (pokemon_id, trainer_id, acquired_on, source)
      SELECT id, owner_id, date_of_ownership, 'created' FROM p
    )
    SELECT EXISTS (SELECT 1 FROM pokemon WHERE id = ${input.id}) AS id_taken,
           EXISTS (SELECT 1 FROM owner) AS owner_found,
           EXISTS (SELECT 1 FROM s) AS species_found,
           ${suggestionsSql(slug, sql`NOT EXISTS (SELECT 1 FROM s)`)} AS suggestions,
           created.*
    FROM (SELECT 1) AS one LEFT JOIN (SELECT ${POKEMON_COLUMNS} FROM p, s) AS created ON true`);
  const row = rows[0]!;
  if (row.id !== null) return { status: 'created', pokemon: toPokemon(row) };
  // Owner and species fine but nothing inserted: the id was taken, possibly a moment ago.
  if (row.id_taken || (row.owner_found && row.species_found)) return { status: 'id-taken' };
  return { status: 'invalid', ownerMissing: !row.owner_found, speciesMissing: !row.species_found, suggestions: row.suggestions ?? [] };
}

export interface PokemonFilters {
  owner?: string | undefined;
  species?: string | undefined;
  minLevel?: number | undefined;
  maxLevel?: number | undefined;
}

function filtersSql(filters: PokemonFilters, after: string | undefined): SQL {
  const conditions: SQL[] = [sql`true`];
  if (filters.owner !== undefined) conditions.push(sql`p.owner_id = ${filters.owner}`);
  if (filters.species !== undefined) conditions.push(sql`s.slug = ${speciesSlug(filters.species)}`);
  if (filters.minLevel !== undefined) conditions.push(sql`p.level >= ${filters.minLevel}`);
  if (filters.maxLevel !== undefined) conditions.push(sql`p.level <= ${filters.maxLevel}`);
  if (after !== undefined) conditions.push(sql`p.id > ${after}`);
  return sql.join(conditions, sql` AND `);
}

/** A page of Pokémon ordered by id (`limit + 1` rows, to tell whether another page follows). */
export async function listPokemon(db: Database, filters: PokemonFilters, page: { limit: number; after?: string | undefined }): Promise<Pokemon[]> {
  const { rows } = await db.execute<PokemonRow>(sql`
    SELECT ${POKEMON_COLUMNS} FROM pokemon p JOIN species s ON s.dex_number = p.species_number
    WHERE ${filtersSql(filters, page.after)} ORDER BY p.id LIMIT ${page.limit + 1}`);
  return rows.map(toPokemon);
}

/** A trainer's Pokémon page, or `undefined` when there is no such trainer (one statement). */
export async function listTrainerPokemon(db: Database, owner: string, page: { limit: number; after?: string | undefined }): Promise<Pokemon[] | undefined> {
  const { rows } = await db.execute<PokemonRow & { trainer_found: boolean }>(sql`
    SELECT EXISTS (SELECT 1 FROM trainers WHERE id = ${owner}) AS trainer_found, page.*
    FROM (SELECT 1) AS one LEFT JOIN (
      SELECT ${POKEMON_COLUMNS} FROM pokemon p JOIN species s ON s.dex_number = p.species_number
      WHERE ${filtersSql({ owner }, page.after)} ORDER BY p.id LIMIT ${page.limit + 1}
    ) AS page ON true
    ORDER BY page.id`);
  if (!rows[0]?.trainer_found) return undefined;
  return rows.filter((row) => row.id !== null).map(toPokemon);
}

/** One Pokémon with its species, or `undefined`. */
export async function getPokemon(db: Database, id: string): Promise<Pokemon | undefined> {
  const { rows } = await db.execute<PokemonRow>(sql`
    SELECT ${POKEMON_COLUMNS} FROM pokemon p JOIN species s ON s.dex_number = p.species_number WHERE p.id = ${id}`);
  return rows[0] && toPokemon(rows[0]);
}

export type UpdatePokemonResult =
  | { status: 'updated'; pokemon: Pokemon }
  | { status: 'not-found' }
  | { status: 'unknown-species'; suggestions: string[] };

/** Changes nickname, level and/or species in one statement. */
export async function updatePokemon(db: Database, id: string, changes: PokemonChanges): Promise<UpdatePokemonResult> {
  const slug = changes.species === undefined ? null : speciesSlug(changes.species);
  const { rows } = await db.execute<PokemonRow & { found: boolean; species_ok: boolean; suggestions: string[] | null }>(sql`
    WITH wanted AS (SELECT dex_number FROM species WHERE slug = ${slug}),
    species_ok AS (SELECT ${slug}::text IS NULL OR EXISTS (SELECT 1 FROM wanted) AS ok),
    p AS (
      UPDATE pokemon SET
        nickname = coalesce(${changes.nickname ?? null}::text, nickname),
        level = coalesce(${changes.level ?? null}::int, level),
        species_number = coalesce((SELECT dex_number FROM wanted), species_number),
        updated_at = now()
      WHERE id = ${id} AND (SELECT ok FROM species_ok)
      RETURNING *
    )
    SELECT EXISTS (SELECT 1 FROM pokemon WHERE id = ${id}) AS found,
           (SELECT ok FROM species_ok) AS species_ok,
           ${suggestionsSql(slug ?? '', sql`NOT (SELECT ok FROM species_ok)`)} AS suggestions,
           updated.*
    FROM (SELECT 1) AS one LEFT JOIN (SELECT ${POKEMON_COLUMNS} FROM p JOIN species s ON s.dex_number = p.species_number) AS updated ON true`);
  const row = rows[0]!;
  if (row.id !== null) return { status: 'updated', pokemon: toPokemon(row) };
  // Species fine but nothing updated: the Pokémon is gone (perhaps deleted a moment ago).
  if (!row.found || row.species_ok) return { status: 'not-found' };
  return { status: 'unknown-species', suggestions: row.suggestions ?? [] };
}

/** Deletes a Pokémon (its history goes with it); false when there was none. */
export async function deletePokemon(db: Database, id: string): Promise<boolean> {
  const { rows } = await db.execute(sql`DELETE FROM pokemon WHERE id = ${id} RETURNING id`);
  return rows.length > 0;
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
  const { rows } = await db.execute<{
    found: boolean;
    trainer_id: string | null;
    acquired_on: string;
    source: OwnershipRecord['source'];
    exchange_id: string | null;
    recorded_at: string;
  }>(sql`
    SELECT EXISTS (SELECT 1 FROM pokemon WHERE id = ${id}) AS found, h.trainer_id, h.acquired_on, h.source, h.exchange_id, h.recorded_at
    FROM (SELECT 1) AS one LEFT JOIN ownership_history h ON h.pokemon_id = ${id}
    ORDER BY h.id`);
  if (!rows[0]?.found) return undefined;
  return rows
    .filter((row) => row.trainer_id !== null)
    .map((row) => ({
      trainer: row.trainer_id!,
      acquiredOn: row.acquired_on,
      source: row.source,
      exchangeId: row.exchange_id,
      recordedAt: new Date(row.recorded_at).toISOString(),
    }));
}
