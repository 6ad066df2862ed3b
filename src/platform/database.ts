/**
 * The database: drizzle over Neon's HTTP driver, with a primary and optional read replicas.
 *
 * Every Neon round trip goes through {@link neonFetch} (the driver's global `fetchFunction`),
 * which counts and times it, bounds it by a timeout, and keeps the request's bookmark (see
 * `bookmark.ts`): it adds a statement to each round trip that reads the WAL position, and on a
 * replica one before the query that checks the replica is fresh enough for the client's
 * bookmark. A round trip stays one round trip: a single query becomes a one-request batch.
 *
 * Reads sent to `replica` run on a replica when one is configured, fresh enough and reachable;
 * otherwise (and after the request has written) on the primary.
 */
import { neon, neonConfig, NeonDbError } from '@neondatabase/serverless';
import { drizzle } from 'drizzle-orm/neon-http';
import * as schema from '../db/schema.ts';
import { lsnFromText, lsnToText, type Bookmark } from './bookmark.ts';
import type { DatabaseConfig } from './config.ts';
import { DependencyUnavailableError, errorChain } from './dependency-error.ts';
import type { Dependency, RoundTrips } from './round-trips.ts';

/** The SQLSTATEs the code acts on. */
export const SQLSTATE = {
  uniqueViolation: '23505',
  foreignKeyViolation: '23503',
  /** Postgres broke a lock cycle by aborting this statement: nothing was written. */
  deadlockDetected: '40P01',
  /** On a replica: the query was cancelled by a conflict with WAL replay. */
  serializationFailure: '40001',
  queryCanceled: '57014',
  /** The session was ended by an administrator (`pg_terminate_backend`), a crash or a shutdown. */
  adminShutdown: '57P01',
  crashShutdown: '57P02',
  cannotConnectNow: '57P03',
  databaseDropped: '57P04',
  idleSessionTimeout: '57P05',
} as const;

/** SQLSTATE classes of a database that cannot serve the request now: connection exceptions and insufficient resources. */
const UNAVAILABLE_CLASSES = ['08', '53'];
const UNAVAILABLE_STATES = new Set<string>([
  SQLSTATE.queryCanceled,
  SQLSTATE.adminShutdown,
  SQLSTATE.crashShutdown,
  SQLSTATE.cannotConnectNow,
  SQLSTATE.databaseDropped,
  SQLSTATE.idleSessionTimeout,
]);

/**
 * True when `state` says the database, not the request, failed: the connection broke (08xxx),
 * an operator or the server ended or cancelled the statement (57P0x, 57014), or it ran out of
 * resources (53xxx). The statement was rolled back; the same request can succeed later.
 */
export function isUnavailableSqlState(state: string | undefined): boolean {
  return state !== undefined && (UNAVAILABLE_STATES.has(state) || UNAVAILABLE_CLASSES.includes(state.slice(0, 2)));
}

/** The SQLSTATE of a database error, looking through drizzle's wrapper (`23505`, `23503`, …). */
export function sqlState(error: unknown): string | undefined {
  for (const link of errorChain(error)) if (link instanceof NeonDbError) return link.code;
  return undefined;
}

/**
 * Runs `run` again (up to `attempts` times in all) while it fails with one of `states` — errors
 * after which the statement wrote nothing and running it again can succeed.
 */
export async function retryOnSqlState<T>(states: readonly string[], attempts: number, run: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (error) {
      if (attempt >= attempts || !states.includes(sqlState(error) ?? '')) throw error;
    }
  }
}

/** After a replica fails to answer, reads skip it for this long (per isolate) instead of waiting on it again. */
const REPLICA_BACKOFF_MS = 5_000;
const replicaDownUntil = new Map<string, number>();

/**
 * One request's view of the database: which replica serves its reads, the bookmark the client
 * sent, and the bookmark its answer carries.
 */
export class DatabaseSession {
  readonly config: DatabaseConfig;
  readonly roundTrips: RoundTrips;
  /** The client's `X-Bookmark`: reads must reflect at least this state. */
  readonly requested: Bookmark | undefined;
  /** The replica chosen for this request's reads (one per request, so its reads never go back in time). */
  readonly replicaUrl: string | undefined;
  #observed: Bookmark | undefined;
  #wrote = false;
  #pinnedToPrimary = false;

  constructor(config: DatabaseConfig, roundTrips: RoundTrips, requested?: Bookmark) {
    this.config = config;
    this.roundTrips = roundTrips;
    this.requested = requested;
    const now = Date.now();
    const up = config.replicaUrls.filter((url) => (replicaDownUntil.get(url) ?? 0) <= now);
    this.replicaUrl = up[Math.floor(Math.random() * up.length)];
  }

  /**
   * The state this request's answer reflects, for `X-Bookmark`; `undefined` before any database
   * round trip. Never older than the bookmark the client sent: bookmarks only move forward.
   */
  get bookmark(): Bookmark | undefined {
    if (this.#observed === undefined) return undefined;
    return this.requested !== undefined && this.requested.lsn > this.#observed.lsn ? this.requested : this.#observed;
  }

  /**
   * Records what a round trip reported, keeping the newest position (a later round trip on a
   * replica can report an older one); after a write, the rest of the request reads from the primary.
   */
  observe(bookmark: Bookmark): void {
    if (this.#observed === undefined || bookmark.lsn >= this.#observed.lsn) this.#observed = bookmark;
    if (bookmark.xid !== undefined) this.#wrote = true;
  }

  /** Sends this request's remaining reads to the primary (a read-cache fill must be current). */
  readFromPrimary(): void {
    this.#pinnedToPrimary = true;
  }

  /** True when reads should skip the replica: none is configured, this request has written, or it must read current state. */
  get primaryOnly(): boolean {
    return this.replicaUrl === undefined || this.#wrote || this.#pinnedToPrimary;
  }
}

/** Where a handle's round trips go: the primary, a replica for reads, or one replica named (health probes). */
type Target = { role: 'primary' } | { role: 'replica' } | { role: 'pinned'; url: string };

interface TransportContext {
  session: DatabaseSession;
  target: Target;
  /** Per round trip to the primary (a replica read uses the replica timeout). */
  timeoutMs: number;
}

/** Carries a {@link TransportContext} to {@link neonFetch} inside the fetch init (Neon spreads `fetchOptions` into it). */
const TRANSPORT_CONTEXT = Symbol('database transport context');

type NeonInit = RequestInit & { headers: Record<string, string>; body: string; [TRANSPORT_CONTEXT]?: TransportContext };

/** A statement as Neon's HTTP protocol carries it. */
const statement = (query: string, params: (string | null)[] = []) => JSON.stringify({ query, params });

/** Last in every primary round trip: where the WAL is, and the writing transaction if there was one. */
const PRIMARY_POSITION = statement('SELECT pg_current_wal_insert_lsn()::text, pg_current_xact_id_if_assigned()::text');
/** Last in every replica round trip: how far it has replayed (PGlite's read-only stand-in replica is not in recovery). */
const REPLICA_POSITION = statement('SELECT coalesce(pg_last_wal_replay_lsn(), pg_current_wal_insert_lsn())::text, NULL::text');
/** First in a bookmarked replica round trip: has the replica reached the bookmark? */
const freshnessCheck = ({ lsn, xid }: Bookmark) =>
  statement(
    'SELECT coalesce(pg_last_wal_replay_lsn(), pg_current_wal_insert_lsn()) >= $1::pg_lsn ' +
      'AND ($2::xid8 IS NULL OR pg_visible_in_snapshot($2::xid8, pg_current_snapshot()))',
    [lsnToText(lsn), xid ?? null],
  );

type NeonResult = { rows: (string | null)[][] } & Record<string, unknown>;

/**
 * The driver's request for one statement (the Worker sends no batches: no `transaction()`, no
 * drizzle `batch`), as one batch with `before` and `after` around it.
 */
function wrapped(body: string, before: string[], after: string[]): string {
  return `{"queries":[${[...before, body, ...after].join(',')}]}`;
}

/** The answer the driver expects for its statement: the result at `index`, without the ones we added. */
function unwrapped(results: NeonResult[], index: number): Response {
  return new Response(JSON.stringify(results[index]), { status: 200, headers: { 'Content-Type': 'application/json' } });
}

/** A position statement's answer as a bookmark. */
function bookmarkFrom(result: NeonResult | undefined): Bookmark | undefined {
  const [lsn, xid] = result?.rows[0] ?? [];
  return typeof lsn === 'string' ? { lsn: lsnFromText(lsn), xid: xid ?? undefined } : undefined;
}

/** The URL Neon serves a connection string's SQL over HTTP at (the stand-in's, locally). */
function endpointFor(connectionString: string, config: DatabaseConfig): string {
  return config.fetchEndpoint ?? `https://${new URL(connectionString).hostname.replace(/^[^.]+\./, 'api.')}/sql`;
}

/**
 * One HTTP round trip, counted under `dependency`, bounded by `timeoutMs`, read whole inside the
 * timeout. Transport failures and 5xx answers throw {@link DependencyUnavailableError}.
 */
async function roundTrip(dependency: Dependency, session: DatabaseSession, url: string, init: RequestInit, timeoutMs: number): Promise<Response> {
  return session.roundTrips.measure(dependency, async () => {
    try {
      const response = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
      // Neon answers 400 for SQL errors; 5xx means the service (or the database behind it) is down.
      if (response.status >= 500) throw new Error(`HTTP ${response.status}: ${(await response.text()).slice(0, 200)}`);
      return new Response(await response.arrayBuffer(), response);
    } catch (error) {
      throw new DependencyUnavailableError(dependency, error);
    }
  });
}

/** Runs a driver request on the primary, learning the WAL position in the same round trip. */
async function onPrimary(url: string, init: NeonInit, context: TransportContext): Promise<Response> {
  const body = wrapped(init.body, [], [PRIMARY_POSITION]);
  const response = await roundTrip('db', context.session, url, { ...init, body }, context.timeoutMs);
  if (response.status !== 200) return response;
  const { results } = (await response.json()) as { results: NeonResult[] };
  const bookmark = bookmarkFrom(results.at(-1));
  if (bookmark) context.session.observe(bookmark);
  return unwrapped(results, 0);
}

/**
 * SQLSTATE classes of errors in the request itself (data exception, integrity, syntax or access
 * rule): the primary would answer the same, so the replica's answer stands.
 */
const REQUEST_ERROR_CLASSES = ['22', '23', '42'];
/**
 * Except what a replica that has not replayed a migration yet says (undefined table, column,
 * function, object): the primary may well know them.
 */
const SCHEMA_LAG_ERRORS = new Set(['42P01', '42703', '42883', '42704']);
/** Replica errors that concern one query, not the replica (replay conflicts, cancellations): no backoff. */
const REPLICA_QUERY_ERRORS = new Set<string>([SQLSTATE.serializationFailure, SQLSTATE.queryCanceled]);

/** Stops sending reads to `replicaUrl` for a while (per isolate), so later requests do not wait on it again. */
function backOff(replicaUrl: string): void {
  replicaDownUntil.set(replicaUrl, Date.now() + REPLICA_BACKOFF_MS);
}

/**
 * Runs a read on `replicaUrl`: read-only, checked against the client's bookmark first, its
 * replay position read last, all in one round trip. `undefined` when the primary must answer
 * instead: the replica is behind the bookmark, or it failed for any reason but an error in the
 * request itself (unreachable, 5xx, refused credentials, cannot connect now, too many
 * connections, a replay conflict, an answer that is not Neon's JSON).
 */
async function onReplica(replicaUrl: string, init: NeonInit, context: TransportContext, pinned: boolean): Promise<Response | undefined> {
  const { session } = context;
  const check = pinned || session.requested === undefined ? [] : [freshnessCheck(session.requested)];
  const body = wrapped(init.body, check, [REPLICA_POSITION]);
  const headers = { ...init.headers, 'Neon-Connection-String': replicaUrl, 'Neon-Batch-Read-Only': 'true' };
  let response: Response;
  try {
    response = await roundTrip('replica', session, endpointFor(replicaUrl, session.config), { ...init, headers, body }, session.config.replicaTimeoutMs);
  } catch (error) {
    if (pinned) throw error;
    backOff(replicaUrl);
    return undefined;
  }
  if (response.status !== 200) {
    if (pinned) return response;
    const code = await response
      .clone()
      .json()
      .then((answer) => (answer as { code?: unknown }).code, () => undefined);
    if (typeof code === 'string' && REQUEST_ERROR_CLASSES.includes(code.slice(0, 2)) && !SCHEMA_LAG_ERRORS.has(code)) return response;
    if (!(typeof code === 'string' && REPLICA_QUERY_ERRORS.has(code))) backOff(replicaUrl);
    return undefined;
  }
  const results = await response.json().then(
    (answer) => (answer as { results?: unknown }).results,
    () => undefined,
  );
  // One result per statement sent (the driver's, the position, and the freshness check if any), or it is not Neon's answer.
  if (!Array.isArray(results) || results.length !== check.length + 2) {
    if (pinned) throw new DependencyUnavailableError('replica', new Error('the replica answered something other than Neon JSON'));
    backOff(replicaUrl);
    return undefined;
  }
  const answered = results as NeonResult[];
  if (check.length > 0 && answered[0]?.rows[0]?.[0] !== 't') return undefined;
  const bookmark = bookmarkFrom(answered.at(-1));
  // A pinned read (a health probe) checked nothing against the client's bookmark: it must not move it.
  if (bookmark && !pinned) session.observe(bookmark);
  return unwrapped(answered, check.length);
}

/** The driver's `fetchFunction`: every Neon round trip of the Worker comes through here. */
async function neonFetch(url: string, init: NeonInit): Promise<Response> {
  const { [TRANSPORT_CONTEXT]: context, ...rest } = init;
  const request = rest as NeonInit;
  if (!context) return fetch(url, request);
  const { session, target } = context;
  const primaryUrl = endpointFor(session.config.primaryUrl, session.config);
  if (target.role === 'pinned') return (await onReplica(target.url, request, context, true))!;
  if (target.role === 'replica' && !session.primaryOnly) {
    const answer = await onReplica(session.replicaUrl!, request, context, false);
    if (answer) return answer;
  }
  return onPrimary(primaryUrl, request, context);
}
neonConfig.fetchFunction = neonFetch;

function handle(session: DatabaseSession, target: Target, timeoutMs: number) {
  const context: TransportContext = { session, target, timeoutMs };
  const client = neon(session.config.primaryUrl, { fetchOptions: { [TRANSPORT_CONTEXT]: context } });
  return drizzle({ client, schema, casing: 'snake_case' });
}

export type Database = ReturnType<typeof handle>;

/** The request's database handles: `primary` for writes (and reads that must be current), `replica` for reads. */
export interface Databases {
  primary: Database;
  replica: Database;
  session: DatabaseSession;
  /** A handle on the primary with a longer timeout, for bulk statements. */
  withTimeout(timeoutMs: number): Database;
  /** A handle on one replica, without fallback (health checks). */
  pinnedTo(replicaUrl: string): Database;
  /**
   * A handle on the primary whose writes do not count as the request's (API key bookkeeping):
   * they neither move its bookmark nor keep its reads off the replicas.
   */
  bookkeeping: Database;
}

/** Creates the request's database handles; `requested` is the client's bookmark. */
export function createDatabases(config: DatabaseConfig, roundTrips: RoundTrips, requested?: Bookmark): Databases {
  const session = new DatabaseSession(config, roundTrips, requested);
  return {
    primary: handle(session, { role: 'primary' }, config.timeoutMs),
    replica: handle(session, { role: 'replica' }, config.timeoutMs),
    session,
    withTimeout: (timeoutMs) => handle(session, { role: 'primary' }, timeoutMs),
    pinnedTo: (url) => handle(session, { role: 'pinned', url }, config.replicaTimeoutMs),
    bookkeeping: handle(new DatabaseSession(config, roundTrips), { role: 'primary' }, config.timeoutMs),
  };
}
