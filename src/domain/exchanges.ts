/**
 * Exchanges: two trainers trade Pokémon in one SQL statement (one database round trip) that
 * locks, checks and writes, so a trade is all or nothing however many run at once.
 */
import { and, desc, eq, sql, type SQL } from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';
import { exchanges } from '../db/schema.ts';
import { retryOnSqlState, SQLSTATE, type Database } from '../platform/database.ts';
import { existsWhere, pageWithFlag } from './page-with-flag.ts';
import { IDEMPOTENCY_WINDOW_INTERVAL, type RequestIds } from './request-ids.ts';

export interface NewExchange {
  trainerA: string;
  trainerB: string;
  /** Owned by A, going to B. */
  pokemonsA: string[];
  /** Owned by B, going to A. */
  pokemonsB: string[];
}

export interface Exchange extends NewExchange {
  id: string;
  createdAt: string;
  /** The accepted offer this exchange carried out (A its `from`, B its `to`); null for a direct exchange. */
  offerId: string | null;
}

/** A listed Pokémon that its stated trainer did not own when the exchange ran. */
export interface OwnershipConflict {
  pokemon: string;
  expectedOwner: string;
  owner: string;
}

export type CreateExchangeResult =
  | { status: 'created'; exchange: Exchange }
  | { status: 'unknown'; trainers: string[]; pokemon: string[] }
  | { status: 'conflict'; conflicts: OwnershipConflict[] };

function toExchange(row: typeof exchanges.$inferSelect): Exchange {
  return {
    id: row.id,
    trainerA: row.trainerA,
    trainerB: row.trainerB,
    pokemonsA: row.pokemonsA,
    pokemonsB: row.pokemonsB,
    createdAt: row.createdAt.toISOString(),
    offerId: row.offerId,
  };
}

/** What a trade statement trades: SQL expressions, so they can be parameters or columns of a row the statement locked first. */
export interface TradeTerms {
  /** The exchange's id (a parameter). */
  id: string;
  trainerA: SQL;
  trainerB: SQL;
  /** `text[]`: owned by A, going to B. */
  pokemonsA: SQL;
  /** `text[]`: owned by B, going to A. */
  pokemonsB: SQL;
  /** `boolean`: the statement may trade at all (checked in `verdict`, with the owners). */
  gate: SQL;
  /** The offer the exchange carries out, or SQL NULL. */
  offerId: SQL;
}

/**
 * The CTEs that lock, check and trade, shared by `POST /exchanges` and accepting an offer; the
 * caller writes `WITH <its own CTEs>, ${tradeSteps(terms)} SELECT …`. The order of the steps
 * is what keeps a trade correct under concurrency:
 *
 * 1. `trainer_locks` takes FOR KEY SHARE on both trainers, in id order. It blocks a concurrent
 *    trainer delete (which needs FOR UPDATE) but not other exchanges, Pokémon creation or edits.
 * 2. `pokemon_locks` runs only after that (its one-time filter reads `trainer_locks`) and takes
 *    FOR UPDATE on every listed Pokémon in id order. Every exchange locks trainers before
 *    Pokémon and Pokémon in id order, so two exchanges never wait on each other in a cycle.
 *    Under READ COMMITTED a row changed by a transaction that committed meanwhile is re-read
 *    at its latest version once locked (a deleted one drops out), so `owner_id` here is the
 *    owner at the moment of the exchange, and nobody can change it until we commit.
 * 3. `verdict` decides from those locked rows alone; the inserts and the UPDATE are gated on
 *    it, so they write everything or nothing. Data-modifying CTEs cannot see each other's
 *    effects, so the history rows take the new owner from the UPDATE's RETURNING.
 *
 * Its CTEs for the caller's final SELECT: `trainer_locks (id)`, `checked (id, from_id, to_id,
 * owner_id)` (owner NULL: no such Pokémon), `verdict (ok)`, `exchange (id, created_at)`.
 */
export function tradeSteps({ id, trainerA, trainerB, pokemonsA: a, pokemonsB: b, gate, offerId }: TradeTerms): SQL {
  return sql`
    trainer_locks AS MATERIALIZED (
      SELECT id FROM trainers WHERE id IN (${trainerA}, ${trainerB}) ORDER BY id FOR KEY SHARE
    ),
    moves AS (
      SELECT id, ${trainerA}::text AS from_id, ${trainerB}::text AS to_id FROM unnest(${a}::text[]) AS id
      UNION ALL
      SELECT id, ${trainerB}::text, ${trainerA}::text FROM unnest(${b}::text[]) AS id
    ),
    pokemon_locks AS MATERIALIZED (
      SELECT id, owner_id FROM pokemon
      WHERE id = ANY (${a}::text[] || ${b}::text[]) AND (SELECT count(*) FROM trainer_locks) >= 0
      ORDER BY id FOR UPDATE
    ),
    checked AS MATERIALIZED (
      SELECT m.id, m.from_id, m.to_id, l.owner_id FROM moves m LEFT JOIN pokemon_locks l USING (id)
    ),
    verdict AS MATERIALIZED (
      SELECT coalesce(${gate} AND (SELECT count(*) FROM trainer_locks) = 2
             AND bool_and(owner_id IS NOT DISTINCT FROM from_id), false) AS ok
      FROM checked
    ),
    exchange AS (
      INSERT INTO exchanges (id, trainer_a, trainer_b, pokemons_a, pokemons_b, offer_id)
      SELECT ${id}, ${trainerA}, ${trainerB}, ${a}::text[], ${b}::text[], ${offerId} FROM verdict WHERE ok
      RETURNING id, created_at
    ),
    moved AS (
      UPDATE pokemon p SET owner_id = c.to_id, date_of_ownership = (now() AT TIME ZONE 'UTC')::date, updated_at = now()
      FROM checked c
      WHERE p.id = c.id AND p.id = ANY (${a}::text[] || ${b}::text[]) AND (SELECT ok FROM verdict)
      RETURNING p.id, p.owner_id, p.date_of_ownership
    ),
    history AS (
      INSERT INTO ownership_history (pokemon_id, trainer_id, acquired_on, source, exchange_id)
      SELECT m.id, m.owner_id, m.date_of_ownership, 'exchanged', e.id FROM moved m CROSS JOIN exchange e
    )`;
}

/** Runs of a trade statement before a trade that keeps losing deadlocks gives up. */
export const TRADE_ATTEMPTS = 3;

/**
 * Trades in one statement ({@link tradeSteps}). A trainer delete that removes Pokémon in its
 * own order can still deadlock with an exchange that lists that trainer's Pokémon under someone
 * else; Postgres aborts one of the two, and an aborted exchange wrote nothing, so it is retried
 * (a rare extra round trip).
 */
export async function createExchange(db: Database, ids: RequestIds, input: NewExchange): Promise<CreateExchangeResult> {
  return retryOnSqlState([SQLSTATE.deadlockDetected], TRADE_ATTEMPTS, () => runExchange(db, ids, input));
}

async function runExchange(db: Database, ids: RequestIds, { trainerA, trainerB, pokemonsA, pokemonsB }: NewExchange): Promise<CreateExchangeResult> {
  const { id } = ids;
  const { rows } = await db.execute<{
    id: string | null;
    created_at: string | null;
    unknown_trainers: string[];
    unknown_pokemon: string[];
    conflicts: OwnershipConflict[];
  }>(sql`
    -- An earlier attempt of this request (same Idempotency-Key and body), if made within the key's 24 hours.
    WITH earlier AS (
      SELECT id, created_at FROM exchanges
      WHERE id IN (${id}, ${ids.previous ?? id}) AND created_at > now() - ${IDEMPOTENCY_WINDOW_INTERVAL}::interval
      ORDER BY created_at DESC LIMIT 1
    ),
    ${tradeSteps({
      id,
      trainerA: sql`${trainerA}`,
      trainerB: sql`${trainerB}`,
      pokemonsA: sql`${sql.param(pokemonsA)}`,
      pokemonsB: sql`${sql.param(pokemonsB)}`,
      gate: sql`NOT EXISTS (SELECT 1 FROM earlier)`,
      offerId: sql`NULL`,
    })}
    SELECT coalesce((SELECT id FROM exchange), (SELECT id FROM earlier)) AS id,
      coalesce((SELECT created_at FROM exchange), (SELECT created_at FROM earlier)) AS created_at,
      ARRAY(SELECT t FROM unnest(ARRAY[${trainerA}, ${trainerB}]::text[]) AS t WHERE t NOT IN (SELECT id FROM trainer_locks)) AS unknown_trainers,
      ARRAY(SELECT id FROM checked WHERE owner_id IS NULL) AS unknown_pokemon,
      (SELECT coalesce(json_agg(json_build_object('pokemon', id, 'expectedOwner', from_id, 'owner', owner_id)), '[]')
         FROM checked WHERE owner_id <> from_id) AS conflicts`);
  const row = rows[0]!;
  if (row.created_at !== null) {
    const createdAt = new Date(row.created_at).toISOString();
    return { status: 'created', exchange: { id: row.id ?? id, trainerA, trainerB, pokemonsA, pokemonsB, createdAt, offerId: null } };
  }
  if (row.unknown_trainers.length > 0 || row.unknown_pokemon.length > 0) {
    return { status: 'unknown', trainers: row.unknown_trainers, pokemon: row.unknown_pokemon };
  }
  return { status: 'conflict', conflicts: row.conflicts };
}

/** One exchange, or `undefined`. */
export async function getExchange(db: Database, id: string): Promise<Exchange | undefined> {
  const [row] = await db.select().from(exchanges).where(eq(exchanges.id, id));
  return row && toExchange(row);
}

/** The newest `limit` exchanges matching `where`, newest first. */
function newest(db: Database, where: SQL | undefined, limit: number) {
  return db
    .select()
    .from(exchanges)
    .where(where)
    .orderBy(desc(exchanges.createdAt), desc(exchanges.id))
    .limit(limit);
}

/**
 * The newest `limit` of two {@link newest} lists, as subquery `page`: `SELECT * FROM (a UNION ALL b)
 * ORDER BY created_at DESC, id DESC LIMIT n`, which Postgres runs as a Merge Append of the two
 * index scans that stops after `limit` rows. (Ordered in an outer SELECT rather than by the
 * set operation's own ORDER BY, which drizzle renders with the columns' TypeScript names,
 * `"createdAt"`, when the database uses snake_case.)
 */
function newestOfBoth(db: Database, a: ReturnType<typeof newest>, b: ReturnType<typeof newest>, limit: number) {
  const both = a.unionAll(b).as('both');
  return db.select().from(both).orderBy(desc(both.createdAt), desc(both.id)).limit(limit).as('page');
}

/** The exchange a cursor names. */
const cursor = alias(exchanges, 'c');

/**
 * A page of exchanges, newest first (`limit + 1` rows, to tell whether another page follows),
 * optionally only those `trainer` took part in. The cursor is the last exchange's id; the
 * keyset is its `(created_at, id)`. With a trainer, each side's index yields its newest rows
 * and the two short lists are merged, so a page costs the same however long the history.
 * `undefined` when the cursor names no exchange.
 */
export async function listExchanges(
  db: Database,
  options: { limit: number; after?: string | undefined; trainer?: string | undefined },
): Promise<Exchange[] | undefined> {
  const { after, trainer } = options;
  const limit = options.limit + 1;
  const afterCursor =
    after === undefined
      ? undefined
      : sql`(${exchanges.createdAt}, ${exchanges.id}) < ${db.select({ createdAt: cursor.createdAt, id: cursor.id }).from(cursor).where(eq(cursor.id, after))}`;
  const page =
    trainer === undefined
      ? newest(db, afterCursor, limit).as('page')
      : newestOfBoth(
          db,
          newest(db, and(eq(exchanges.trainerA, trainer), afterCursor), limit),
          newest(db, and(eq(exchanges.trainerB, trainer), afterCursor), limit),
          limit,
        );
  // The cursor names an exchange; one that does not exist is refused, not read as "no more pages".
  const cursorFound = after === undefined ? sql<boolean>`true` : existsWhere(db, cursor, eq(cursor.id, after));
  const { flag, rows } = await pageWithFlag(db, cursorFound, (head) =>
    head.leftJoin(page, sql`true`).orderBy(desc(page.createdAt), desc(page.id)),
  );
  return flag ? rows.map(toExchange) : undefined;
}
