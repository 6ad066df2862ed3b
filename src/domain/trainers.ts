/**
 * Trainers: the SQL behind the trainer routes. Each function is one database round trip.
 */
import { and, asc, eq, gt, ilike, or, sql } from 'drizzle-orm';
import { retryOnSqlState, sqlState, SQLSTATE, type Database } from '../platform/database.ts';
import { pokemon, trainers } from '../db/schema.ts';
import { stillAt, type Version } from './versions.ts';

export type TrainerRow = typeof trainers.$inferSelect;

export interface Trainer {
  id: string;
  firstName: string;
  lastName: string;
  dateOfBirth: string;
  createdAt: string;
  updatedAt: string;
}

export interface NewTrainer {
  id: string;
  firstName: string;
  lastName: string;
  dateOfBirth: string;
}

export type TrainerChanges = Partial<Omit<NewTrainer, 'id'>>;

/** The API shape of a trainer row. */
export function toTrainer(row: TrainerRow): Trainer {
  return {
    id: row.id,
    firstName: row.firstName,
    lastName: row.lastName,
    dateOfBirth: row.dateOfBirth,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

/** Escapes LIKE wildcards so a search for `50%` finds the text `50%`. */
function likePattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** Inserts a trainer; `undefined` when the id is taken (nothing is overwritten). */
export async function createTrainer(db: Database, input: NewTrainer): Promise<Trainer | undefined> {
  const [row] = await db.insert(trainers).values(input).onConflictDoNothing({ target: trainers.id }).returning();
  return row && toTrainer(row);
}

/** A page of trainers ordered by id, optionally filtered by a case-insensitive name search. */
export async function listTrainers(db: Database, options: { limit: number; after?: string | undefined; q?: string | undefined }) {
  const rows = await db
    .select()
    .from(trainers)
    .where(
      and(
        options.after === undefined ? undefined : gt(trainers.id, options.after),
        options.q === undefined
          ? undefined
          : or(
              ilike(sql`${trainers.firstName} || ' ' || ${trainers.lastName}`, likePattern(options.q)),
              ilike(trainers.id, likePattern(options.q)),
            ),
      ),
    )
    .orderBy(asc(trainers.id))
    .limit(options.limit + 1);
  return rows.map(toTrainer);
}

/** One trainer with the number of Pokémon they own, or `undefined`. */
export async function getTrainer(db: Database, id: string): Promise<(Trainer & { pokemonCount: number }) | undefined> {
  const [row] = await db
    .select({
      trainer: trainers,
      // Spelled out: drizzle would render these columns unqualified, and "id" would bind to pokemon.
      pokemonCount: sql<number>`(SELECT count(*)::int FROM pokemon p WHERE p.owner_id = trainers.id)`,
    })
    .from(trainers)
    .where(eq(trainers.id, id));
  return row && { ...toTrainer(row.trainer), pokemonCount: row.pokemonCount };
}

export type UpdateTrainerResult =
  | { status: 'updated'; trainer: Trainer }
  | { status: 'not-found' }
  /** It is no longer the `version` the write was made conditional on. */
  | { status: 'changed' }
  /** The new date of birth is after the day they came to own one of their Pokémon (`firstOwned`). */
  | { status: 'born-after-ownership'; firstOwned: string };

/**
 * Applies `changes` in one statement; a date of birth after the earliest `dateOfOwnership` of
 * the trainer's Pokémon is refused (nothing changes). The trainer is locked first, so Pokémon
 * being created for them (which lock it FOR SHARE) are either done or wait.
 */
export async function updateTrainer(db: Database, id: string, changes: TrainerChanges, version?: Version): Promise<UpdateTrainerResult> {
  const dob = changes.dateOfBirth ?? null;
  const { rows } = await db.execute<{ found: boolean; matched: boolean; first_owned: string | null } & Record<keyof Trainer, string | null>>(sql`
    WITH target AS (SELECT id FROM ${trainers} t WHERE id = ${id} AND ${trainerStillAt(version)} FOR UPDATE),
    owned AS (SELECT min(date_of_ownership) AS first FROM ${pokemon} WHERE owner_id IN (SELECT id FROM target)),
    updated AS (
      UPDATE ${trainers} SET
        first_name = coalesce(${changes.firstName ?? null}::text, first_name),
        last_name = coalesce(${changes.lastName ?? null}::text, last_name),
        date_of_birth = coalesce(${dob}::date, date_of_birth),
        updated_at = now()
      WHERE id IN (SELECT id FROM target) AND NOT coalesce((SELECT first FROM owned) < ${dob}::date, false)
      RETURNING *
    )
    SELECT EXISTS (SELECT 1 FROM ${trainers} WHERE id = ${id}) AS found, EXISTS (SELECT 1 FROM target) AS matched,
           (SELECT first::text FROM owned) AS first_owned,
           u.id, u.first_name AS "firstName", u.last_name AS "lastName", u.date_of_birth::text AS "dateOfBirth",
           u.created_at AS "createdAt", u.updated_at AS "updatedAt"
    FROM (SELECT 1) AS one LEFT JOIN updated u ON true`);
  const row = rows[0]!;
  if (row.id !== null) {
    const { id: rowId, firstName, lastName, dateOfBirth, createdAt, updatedAt } = row as Record<keyof Trainer, string>;
    return { status: 'updated', trainer: toTrainer({ id: rowId, firstName, lastName, dateOfBirth, createdAt: new Date(createdAt), updatedAt: new Date(updatedAt) }) };
  }
  if (!row.found) return { status: 'not-found' };
  if (!row.matched) return { status: 'changed' };
  if (row.first_owned === null) return { status: 'not-found' };
  return { status: 'born-after-ownership', firstOwned: row.first_owned };
}

export type DeleteTrainerResult =
  | { status: 'deleted'; pokemonDeleted: number }
  | { status: 'not-found' }
  | { status: 'changed' }
  | { status: 'owns-pokemon'; pokemonCount: number | null };

/** The trainer `t` is still at `version`: same `updatedAt`, same number of Pokémon. */
function trainerStillAt(version: Version | undefined) {
  if (version === undefined) return sql`true`;
  return sql`${stillAt(sql`t.updated_at`, version)} AND (SELECT count(*) FROM ${pokemon} p WHERE p.owner_id = t.id) = ${version.pokemonCount ?? 0}`;
}

/** The delete statement; `owned_rows` locks the trainer's Pokémon in id order, as trades do, so the two cannot deadlock. */
function deleteStatement(id: string, cascade: boolean, version: Version | undefined) {
  return sql`
    WITH target AS (SELECT id FROM ${trainers} t WHERE id = ${id} AND ${trainerStillAt(version)} FOR UPDATE),
    owned_rows AS MATERIALIZED (SELECT id FROM ${pokemon} WHERE owner_id IN (SELECT id FROM target) ORDER BY id FOR UPDATE),
    owned AS (SELECT count(*)::int AS n FROM owned_rows),
    deleted_pokemon AS (
      DELETE FROM ${pokemon} WHERE ${cascade} AND id IN (SELECT id FROM owned_rows) RETURNING 1
    ),
    deleted AS (
      DELETE FROM ${trainers} WHERE id IN (SELECT id FROM target) AND (${cascade} OR (SELECT n FROM owned) = 0) RETURNING 1
    )
    SELECT EXISTS (SELECT 1 FROM ${trainers} WHERE id = ${id}) AS found, EXISTS (SELECT 1 FROM target) AS matched, (SELECT n FROM owned) AS owned,
           (SELECT count(*)::int FROM deleted_pokemon) AS deleted_pokemon, EXISTS (SELECT 1 FROM deleted) AS deleted`;
}

/** Attempts before a delete that keeps racing other writes gives up. */
const DELETE_ATTEMPTS = 3;

/**
 * Deletes a trainer in one statement. Without `cascade` a trainer who owns Pokémon stays;
 * with it, their Pokémon go in the same statement (all or nothing). A Pokémon given to the
 * trainer while the statement ran makes the foreign key refuse (the statement's snapshot
 * predates it); the statement then runs again and sees it.
 */
export async function deleteTrainer(db: Database, id: string, cascade: boolean, version?: Version): Promise<DeleteTrainerResult> {
  try {
    const { rows } = await retryOnSqlState([SQLSTATE.foreignKeyViolation, SQLSTATE.deadlockDetected], DELETE_ATTEMPTS, () =>
      db.execute<{ found: boolean; matched: boolean; owned: number; deleted_pokemon: number; deleted: boolean }>(deleteStatement(id, cascade, version)),
    );
    const row = rows[0]!;
    if (!row.found) return { status: 'not-found' };
    if (!row.matched) return { status: 'changed' };
    if (!row.deleted) return { status: 'owns-pokemon', pokemonCount: row.owned };
    return { status: 'deleted', pokemonDeleted: row.deleted_pokemon };
  } catch (error) {
    // Pokémon kept arriving for this trainer on every attempt.
    if (sqlState(error) === SQLSTATE.foreignKeyViolation) return { status: 'owns-pokemon', pokemonCount: null };
    throw error;
  }
}
