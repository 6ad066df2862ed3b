/**
 * Offers: a trade one trainer proposes and the other accepts, declines, or the first withdraws.
 * Each function is one statement (one database round trip). Accepting runs the exchange's own
 * lock-check-trade steps ({@link tradeSteps}) on terms read from the offer row it locked first.
 *
 * Failures are {@link DomainError}s: `not-found` (also for a trainer the offer does not
 * concern), `forbidden` (the wrong one of its two trainers), `conflict` (Pokémon no longer with
 * the trainer the offer says), `gone` (no longer open).
 */
import { and, desc, eq, or, sql, type SQL } from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';
import { exchanges, offers } from '../db/schema.ts';
import { retryOnSqlState, SQLSTATE, type Database } from '../platform/database.ts';
import { DomainError } from './errors.ts';
import { TRADE_ATTEMPTS, tradeSteps, type Exchange } from './exchanges.ts';
import { existsWhere, pageWithFlag } from './page-with-flag.ts';
import { IDEMPOTENCY_WINDOW_INTERVAL, type RequestIds } from './request-ids.ts';

/** `expired` is not stored: an offer is expired when it is open and past `expiresAt`. */
export const OFFER_STATUSES = ['open', 'accepted', 'declined', 'withdrawn', 'expired'] as const;
export type OfferStatus = (typeof OFFER_STATUSES)[number];

export const MAX_OFFER_SECONDS = 7 * 24 * 60 * 60;
export const DEFAULT_OFFER_SECONDS = 24 * 60 * 60;

export interface NewOffer {
  from: string;
  to: string;
  /** Owned by `from`, going to `to`. */
  give: string[];
  /** Owned by `to`, going to `from`. */
  want: string[];
  expiresInSeconds: number;
}

export interface Offer {
  id: string;
  from: string;
  to: string;
  give: string[];
  want: string[];
  status: OfferStatus;
  createdAt: string;
  expiresAt: string;
  /** When it was accepted, declined or withdrawn; null while open (or expired). */
  closedAt: string | null;
  /** The exchange that carried it out, once accepted. */
  exchangeId: string | null;
}

/** A listed Pokémon not with the trainer the offer says (`owner` null: it no longer exists). */
export interface OfferConflict {
  pokemon: string;
  expectedOwner: string;
  owner: string | null;
}

/** An offer as the statements return it (timestamps as text from raw SQL, as Dates from drizzle). */
interface OfferRecord {
  id: string;
  fromId: string;
  toId: string;
  give: string[];
  want: string[];
  status: OfferStatus;
  createdAt: string | Date;
  expiresAt: string | Date;
  closedAt: string | Date | null;
  exchangeId: string | null;
}

const iso = (value: string | Date) => new Date(value).toISOString();

function toOffer(row: OfferRecord): Offer {
  return {
    id: row.id,
    from: row.fromId,
    to: row.toId,
    give: row.give,
    want: row.want,
    status: row.status,
    createdAt: iso(row.createdAt),
    expiresAt: iso(row.expiresAt),
    closedAt: row.closedAt === null ? null : iso(row.closedAt),
    exchangeId: row.exchangeId,
  };
}

/** The stored status, or `expired` for an open offer past its time (by the database's clock). */
const derivedStatus = (status: SQL, expiresAt: SQL) =>
  sql<OfferStatus>`CASE WHEN ${status} = 'open' AND ${expiresAt} <= now() THEN 'expired' ELSE ${status} END`;

/** An offer row `o`'s columns in raw statements, named as {@link OfferRecord} names them. */
const RAW_COLUMNS = sql`o.id, o.from_id AS "fromId", o.to_id AS "toId", o.give, o.want,
  ${derivedStatus(sql.raw('o.status'), sql.raw('o.expires_at'))} AS status,
  o.created_at AS "createdAt", o.expires_at AS "expiresAt", o.closed_at AS "closedAt"`;

/**
 * Creates an offer in one statement: both trainers must exist (else `not-found`), `from` must
 * own every `give` and `to` every `want` (else `conflict` listing each with its owner now).
 * Nothing is locked: the owners are checked again, under locks, when the offer is accepted.
 * An offer with one of these ids made within the replay window (an idempotent retry) is returned
 * as it is.
 */
export async function createOffer(db: Database, ids: RequestIds, input: NewOffer): Promise<Offer> {
  const { id } = ids;
  const { from, to, give, want } = input;
  const { rows } = await db.execute<Partial<OfferRecord> & { missing: string[]; conflicts: OfferConflict[] }>(sql`
    WITH earlier AS (
      SELECT * FROM offers
      WHERE id IN (${id}, ${ids.previous ?? id}) AND created_at > now() - ${IDEMPOTENCY_WINDOW_INTERVAL}::interval
      ORDER BY created_at DESC LIMIT 1
    ),
    found AS (SELECT id FROM trainers WHERE id IN (${from}, ${to})),
    listed AS (
      SELECT id, ${from}::text AS expected FROM unnest(${sql.param(give)}::text[]) AS id
      UNION ALL
      SELECT id, ${to}::text FROM unnest(${sql.param(want)}::text[]) AS id
    ),
    checked AS MATERIALIZED (SELECT l.id, l.expected, p.owner_id FROM listed l LEFT JOIN pokemon p USING (id)),
    verdict AS MATERIALIZED (
      SELECT NOT EXISTS (SELECT 1 FROM earlier) AND (SELECT count(*) FROM found) = 2
             AND NOT EXISTS (SELECT 1 FROM checked WHERE owner_id IS DISTINCT FROM expected) AS ok
    ),
    created AS (
      INSERT INTO offers (id, from_id, to_id, give, want, expires_at)
      SELECT ${id}, ${from}, ${to}, ${sql.param(give)}::text[], ${sql.param(want)}::text[], now() + ${input.expiresInSeconds}::int * interval '1 second'
      FROM verdict WHERE ok
      RETURNING *
    )
    SELECT ${RAW_COLUMNS}, NULL AS "exchangeId",
      ARRAY(SELECT t FROM unnest(ARRAY[${from}, ${to}]::text[]) AS t WHERE t NOT IN (SELECT id FROM found)) AS missing,
      (SELECT coalesce(json_agg(json_build_object('pokemon', id, 'expectedOwner', expected, 'owner', owner_id)), '[]')
         FROM checked WHERE owner_id IS DISTINCT FROM expected) AS conflicts
    FROM (SELECT 1) AS one LEFT JOIN (SELECT * FROM created UNION ALL SELECT * FROM earlier) AS o ON true`);
  const row = rows[0]!;
  if (row.id != null) return toOffer(row as OfferRecord);
  if (row.missing.length > 0) {
    throw new DomainError('not-found', `Nothing was offered: there is no trainer ${row.missing.map((t) => `"${t}"`).join(' or ')}.`, {
      unknownTrainers: row.missing,
      errors: row.missing.map((t) => ({ pointer: t === to ? '/to' : '/from', detail: `there is no trainer "${t}"` })),
    });
  }
  const { conflicts } = row;
  throw new DomainError('conflict', `Nothing was offered: ${conflicts.length} Pokémon ${conflicts.length === 1 ? 'is' : 'are'} not with the trainer the offer says.`, {
    conflicts,
    errors: conflicts.map(({ pokemon, expectedOwner, owner }) => ({
      pointer: give.includes(pokemon) ? `/give/${give.indexOf(pokemon)}` : `/want/${want.indexOf(pokemon)}`,
      detail: owner === null ? `there is no Pokémon "${pokemon}"` : `"${pokemon}" belongs to trainer "${owner}", not "${expectedOwner}"`,
    })),
  });
}

/** The offer columns for drizzle reads, with its exchange (if accepted) joined in. */
function selectOffers(db: Database) {
  return db
    .select({
      id: offers.id,
      fromId: offers.fromId,
      toId: offers.toId,
      give: offers.give,
      want: offers.want,
      status: derivedStatus(sql`${offers.status}`, sql`${offers.expiresAt}`).as('status'),
      createdAt: offers.createdAt,
      expiresAt: offers.expiresAt,
      closedAt: offers.closedAt,
      // Aliased: the page subquery cannot have two columns named "id".
      exchangeId: sql<string | null>`${exchanges.id}`.as('exchange_id'),
    })
    .from(offers)
    .leftJoin(exchanges, eq(exchanges.offerId, offers.id));
}

/** One offer, or `undefined`. (Who may see it is the caller's decision.) */
export async function getOffer(db: Database, id: string): Promise<Offer | undefined> {
  const [row] = await selectOffers(db).where(eq(offers.id, id));
  return row && toOffer(row);
}

export interface OfferFilters {
  /** Offers this trainer made or received. */
  trainer?: string | undefined;
  /** With `trainer`: only those it made (`from`) or received (`to`). */
  role?: 'from' | 'to' | undefined;
  status?: OfferStatus | undefined;
}

function statusWhere(status: OfferStatus | undefined): SQL | undefined {
  if (status === undefined) return undefined;
  if (status === 'open') return sql`${offers.status} = 'open' AND ${offers.expiresAt} > now()`;
  if (status === 'expired') return sql`${offers.status} = 'open' AND ${offers.expiresAt} <= now()`;
  return eq(offers.status, status);
}

function trainerWhere({ trainer, role }: OfferFilters): SQL | undefined {
  if (trainer === undefined) return undefined;
  if (role === 'from') return eq(offers.fromId, trainer);
  if (role === 'to') return eq(offers.toId, trainer);
  return or(eq(offers.fromId, trainer), eq(offers.toId, trainer));
}

/** The offer a cursor names. */
const cursor = alias(offers, 'c');

/**
 * A page of offers, newest first (`limit + 1` rows), keyset on `(created_at, id)` after the
 * offer `after` names; `undefined` when the cursor names no offer.
 */
export async function listOffers(db: Database, filters: OfferFilters, page: { limit: number; after?: string | undefined }): Promise<Offer[] | undefined> {
  const { after } = page;
  const afterCursor =
    after === undefined
      ? undefined
      : sql`(${offers.createdAt}, ${offers.id}) < ${db.select({ createdAt: cursor.createdAt, id: cursor.id }).from(cursor).where(eq(cursor.id, after))}`;
  const rows = selectOffers(db)
    .where(and(trainerWhere(filters), statusWhere(filters.status), afterCursor))
    .orderBy(desc(offers.createdAt), desc(offers.id))
    .limit(page.limit + 1)
    .as('page');
  const cursorFound = after === undefined ? sql<boolean>`true` : existsWhere(db, cursor, eq(cursor.id, after));
  const { flag, rows: found } = await pageWithFlag(db, cursorFound, (head) => head.leftJoin(rows, sql`true`).orderBy(desc(rows.createdAt), desc(rows.id)));
  return flag ? found.map(toOffer) : undefined;
}

type Party = 'from' | 'to';
const PARTY_NAMES: Record<Party, string> = { from: 'the trainer who made it', to: 'the trainer it was made to' };

/**
 * Who may act, decided from the offer row as the statement found it: a trainer the offer does
 * not concern learns nothing (`not-found`), the other party is `forbidden`, and an offer no longer
 * open is `gone` (saying why).
 */
function checkActor(row: Partial<OfferRecord>, id: string, caller: string, party: Party, verb: string): asserts row is OfferRecord {
  if (row.id == null || (row.fromId !== caller && row.toId !== caller)) throw new DomainError('not-found', `There is no offer "${id}".`);
  const actor = party === 'from' ? row.fromId : row.toId;
  if (actor !== caller) {
    throw new DomainError('forbidden', `Only "${actor}", ${PARTY_NAMES[party]}, can ${verb} offer "${id}".`, { trainer: caller });
  }
}

function gone(row: OfferRecord, verb: string): DomainError {
  const why = row.status === 'expired' ? `expired at ${iso(row.expiresAt)}` : `was already ${row.status}`;
  return new DomainError('gone', `Offer "${row.id}" cannot be ${verb}: it ${why}.`, { offerStatus: row.status });
}

export interface AcceptedOffer {
  offer: Offer;
  exchange: Exchange;
}

/**
 * Accepts an offer for `caller` (its `to`) in one statement:
 *
 * 1. `offer` locks the offer row FOR UPDATE, before anything else. Concurrent accepts (and
 *    declines, withdrawals) queue here; each that follows re-reads the row at its latest version
 *    (READ COMMITTED) and finds it no longer open.
 * 2. `ready` is the offer only if `caller` is its `to`, it is open and not expired.
 * 3. {@link tradeSteps} with the terms read from `ready`: the exchange's own locks (trainers FOR
 *    KEY SHARE in id order, then Pokémon FOR UPDATE in id order) and checks, so offers and direct
 *    exchanges never lose or duplicate a Pokémon between them; the exchange row names the offer.
 * 4. `closed` marks the offer accepted, gated on the same verdict as the trade.
 *
 * A Pokémon that changed hands since the offer was made → `conflict` listing them; nothing moves
 * and the offer stays open. The exchange's ids are derived from the Idempotency-Key when there is
 * one: a retry after a lost answer finds its own exchange (`earlier`) and is answered as the first was.
 */
export async function acceptOffer(db: Database, id: string, caller: string, ids: RequestIds): Promise<AcceptedOffer> {
  return retryOnSqlState([SQLSTATE.deadlockDetected], TRADE_ATTEMPTS, () => runAccept(db, id, caller, ids));
}

async function runAccept(db: Database, id: string, caller: string, ids: RequestIds): Promise<AcceptedOffer> {
  const exchangeId = ids.id;
  const field = (column: string) => sql.raw(`(SELECT ${column} FROM ready)`);
  const { rows } = await db.execute<
    Partial<OfferRecord> & { accepted_at: string | null; exchange_id: string | null; exchanged_at: string | null; trainers: string[]; conflicts: OfferConflict[] }
  >(sql`
    WITH offer AS MATERIALIZED (SELECT * FROM offers WHERE id = ${id} FOR UPDATE),
    earlier AS (SELECT id, created_at FROM exchanges WHERE id IN (${exchangeId}, ${ids.previous ?? exchangeId}) AND offer_id = ${id}),
    ready AS MATERIALIZED (SELECT * FROM offer WHERE to_id = ${caller} AND status = 'open' AND expires_at > now()),
    ${tradeSteps({
      id: exchangeId,
      trainerA: field('from_id'),
      trainerB: field('to_id'),
      pokemonsA: field('give'),
      pokemonsB: field('want'),
      gate: sql`EXISTS (SELECT 1 FROM ready)`,
      offerId: field('id'),
    })},
    closed AS (
      UPDATE offers SET status = 'accepted', closed_at = now() WHERE id = ${id} AND (SELECT ok FROM verdict) RETURNING closed_at
    )
    SELECT ${RAW_COLUMNS},
      (SELECT closed_at FROM closed) AS accepted_at,
      coalesce((SELECT id FROM exchange), (SELECT id FROM earlier)) AS exchange_id,
      coalesce((SELECT created_at FROM exchange), (SELECT created_at FROM earlier)) AS exchanged_at,
      ARRAY(SELECT id FROM trainer_locks) AS trainers,
      (SELECT coalesce(json_agg(json_build_object('pokemon', id, 'expectedOwner', from_id, 'owner', owner_id) ORDER BY id), '[]')
         FROM checked WHERE owner_id IS DISTINCT FROM from_id) AS conflicts
    FROM (SELECT 1) AS one LEFT JOIN offer AS o ON true`);
  const row = rows[0]!;
  checkActor(row, id, caller, 'to', 'accept');
  if (row.exchange_id !== null && row.exchanged_at !== null) {
    const offer = toOffer({ ...row, status: 'accepted', closedAt: row.accepted_at ?? row.closedAt, exchangeId: row.exchange_id });
    const exchange: Exchange = {
      id: row.exchange_id,
      trainerA: offer.from,
      trainerB: offer.to,
      pokemonsA: offer.give,
      pokemonsB: offer.want,
      createdAt: iso(row.exchanged_at),
      offerId: id,
    };
    return { offer, exchange };
  }
  if (row.status !== 'open') throw gone(row, 'accepted');
  const missing = [row.fromId, row.toId].filter((t) => !row.trainers.includes(t));
  if (missing.length > 0) {
    throw new DomainError('gone', `Offer "${id}" cannot be accepted: trainer "${missing.join('", "')}" no longer exists.`, { offerStatus: row.status, unknownTrainers: missing });
  }
  const { conflicts } = row;
  throw new DomainError('conflict', `Nothing was traded: ${conflicts.length} Pokémon changed hands since the offer was made; it stays open.`, {
    conflicts,
    errors: conflicts.map(({ pokemon, expectedOwner, owner }) => ({
      pointer: row.give.includes(pokemon) ? `/give/${row.give.indexOf(pokemon)}` : `/want/${row.want.indexOf(pokemon)}`,
      detail: owner === null ? `"${pokemon}" no longer exists` : `"${pokemon}" now belongs to trainer "${owner}", not "${expectedOwner}"`,
    })),
  });
}

const CLOSING = {
  decline: { party: 'to', status: 'declined', verb: 'decline', done: 'declined' },
  withdraw: { party: 'from', status: 'withdrawn', verb: 'withdraw', done: 'withdrawn' },
} as const;

/** Declines (`to`) or withdraws (`from`) an open offer for `caller`, in one statement that locks the offer row first. */
export async function closeOffer(db: Database, id: string, caller: string, action: keyof typeof CLOSING): Promise<Offer> {
  const { party, status, verb, done } = CLOSING[action];
  const { rows } = await db.execute<Partial<OfferRecord> & { closed_at: string | null }>(sql`
    WITH offer AS MATERIALIZED (SELECT * FROM offers WHERE id = ${id} FOR UPDATE),
    closed AS (
      UPDATE offers SET status = ${status}, closed_at = now()
      WHERE id IN (SELECT id FROM offer WHERE ${sql.raw(party === 'from' ? 'from_id' : 'to_id')} = ${caller} AND status = 'open' AND expires_at > now())
      RETURNING closed_at
    )
    SELECT ${RAW_COLUMNS}, (SELECT closed_at FROM closed) AS closed_at, NULL AS "exchangeId"
    FROM (SELECT 1) AS one LEFT JOIN offer AS o ON true`);
  const row = rows[0]!;
  checkActor(row, id, caller, party, verb);
  if (row.closed_at === null) throw gone(row, done);
  return toOffer({ ...row, status, closedAt: row.closed_at });
}
