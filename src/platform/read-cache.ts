/**
 * The edge read cache, cache-aside, in two tiers: this isolate's memory (a bounded LRU map: no
 * I/O at all), then the Workers Cache API of the location (`caches.default`: shared by the
 * location's isolates, no subrequest); a miss in both reads the primary and fills both, for
 * `READ_CACHE_TTL_SECONDS`.
 *
 * Freshness comes from a **generation**: every cached answer is stored under the generation that
 * was current when it was read, and every write starts a new one *before it answers*: one `INCR`
 * in Redis (shared by all locations), then a put of the location's **generation record** in the
 * Cache API, which every cacheable request reads (one lookup, no Redis). So after an acknowledged
 * write no isolate of the location serves anything cached before it, whatever it changed
 * (cascades and list pages included); and a slow read that started before the write stores its
 * answer under the old generation, where nobody looks.
 *
 * The Cache API has no compare-and-set, so the record could move back when puts cross: a writer
 * re-reads the counter after its put and puts again while it is higher ({@link publishGeneration}),
 * and a reader refills an absent record only if it is still absent, then catches up the same way
 * ({@link refillGeneration}). Every entry, and the record, expires `READ_CACHE_TTL_SECONDS` after
 * its put, so no answer is ever older than the TTL, whatever Redis does; other locations see a
 * write within that time.
 *
 * A miss reads from the primary, never a lagging replica, so a stored answer is never older
 * than the writes that came before it; requests carrying `X-Bookmark` skip the cache (the
 * database's freshness check answers them). Redis down: a location with a record keeps serving
 * from it; one without reads from the database; a write records a generation of its own at its
 * location. Never a 503 because of the cache.
 */
import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import type { AppEnv } from '../env.ts';
import { sha256 } from './hashing.ts';
import { noteError } from './request-log.ts';
import type { Redis } from './redis.ts';

/** The answers worth caching: plain reads of the API's resources (not keys, uploads, health or docs). */
const CACHEABLE = /^\/(trainers|pokemon|exchanges|species)(\/[^/]+(\/(pokemon|history))?)?$/;
/** True for the paths the read cache answers (and `ETag`s); path templates (`/trainers/{id}`) match too. */
export function isCacheablePath(path: string): boolean {
  return CACHEABLE.test(path);
}

/** The Pokédex changes only with a migration: cached for an hour whatever the TTL, under a generation of its own. */
const SPECIES = /^\/species(\/|$)/;
const SPECIES_TTL_SECONDS = 3600;
const SPECIES_GENERATION = 'species';

export const GENERATION_KEY = 'readcache:generation';

/**
 * Where a counter Redis does not have starts: the clock in microseconds, not 0, so a Redis that
 * lost its data (a restart without persistence, a flush, a dev stack restarted on the in-memory
 * engine while `wrangler dev` kept its Cache API on disk) never hands out a generation that
 * entries still cached were filled at. Writes would have to outpace a million per second to
 * overtake it.
 */
const counterStart = () => Date.now() * 1000;
/** Cache API keys must be URLs; this host is never fetched. */
const CACHE_ORIGIN = 'https://read-cache.internal';

/** The isolate tier's bounds: well inside a 128 MB isolate; a larger answer is kept by the Cache API only. */
const ISOLATE_MAX_ENTRIES = 2_000;
const ISOLATE_MAX_BYTES = 16 * 1024 * 1024;
const ISOLATE_MAX_ENTRY_BYTES = 256 * 1024;

/**
 * The cache key of an answer to the request URL `url` read at `generation`: its path as sent,
 * its query parameters sorted. Cut from the string rather than parsed as a `URL`: every hit
 * builds one, and most requests have no query at all.
 */
export function readCacheKey(generation: string, url: string): string {
  const pathStart = url.indexOf('/', url.indexOf('//') + 2);
  const queryStart = url.indexOf('?', pathStart);
  const path = queryStart === -1 ? url.slice(pathStart) : url.slice(pathStart, queryStart);
  const prefix = `${CACHE_ORIGIN}/${encodeURIComponent(generation)}${path}`;
  if (queryStart === -1 || queryStart === url.length - 1) return prefix;
  const query = [...new URLSearchParams(url.slice(queryStart + 1))].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `${prefix}?${new URLSearchParams(query).toString()}`;
}

/** A strong ETag of a representation: its SHA-256. */
export async function etagOf(body: string): Promise<string> {
  return `"${(await sha256(body)).slice(0, 32)}"`;
}

/** True when `If-None-Match` names `etag` (or `*`). */
function matches(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  return header.trim() === '*' || header.split(',').some((candidate) => candidate.trim().replace(/^W\//, '') === etag);
}

// ---------------------------------------------------------------- the generation, as the location knows it

/** Cache API key of the location's generation record (a header, no body). */
export const GENERATION_RECORD = `${CACHE_ORIGIN}/generation`;
const GENERATION_HEADER = 'X-Read-Cache-Generation';
const EXPIRES_HEADER = 'X-Read-Cache-Expires';
/** How often a put that may have been overtaken re-reads the counter: each pass costs one Redis `GET`. */
const CATCH_UP_PASSES = 3;
/** After Redis failed, how long a location without a record reads from the database before asking Redis again. */
const REDIS_RETRY_MS = 5_000;

/** When Redis last failed this isolate: not the generation, only whether asking again is worth a round trip. */
let redisFailedAt = -Infinity;

/** The location's record, if present and not expired: the generation to read and fill at. */
async function recordedGeneration(cache: Cache, now: number): Promise<string | undefined> {
  // A Cache API that fails is a cache without the record: the counter in Redis decides.
  const record = await cache.match(GENERATION_RECORD).catch(() => undefined);
  const generation = record?.headers.get(GENERATION_HEADER);
  if (!generation || !(Number(record!.headers.get(EXPIRES_HEADER)) > now)) return undefined;
  return generation;
}

function recordGeneration(cache: Cache, generation: string, ttlSeconds: number): Promise<void> {
  const headers = { [GENERATION_HEADER]: generation, 'Cache-Control': `max-age=${ttlSeconds}`, [EXPIRES_HEADER]: String(Date.now() + ttlSeconds * 1000) };
  return cache.put(GENERATION_RECORD, new Response(null, { headers }));
}

/**
 * Puts `value` as the location's generation, then re-reads the counter and puts it again while
 * it is higher (another writer's `INCR` whose put this one may have overwritten), a few passes
 * at most. What stays open: a put delayed until after another writer's *last* put rolls the
 * record back until its own re-read corrects it — one Redis round trip — and for a whole record
 * lifetime (the TTL) if its isolate dies in between; the Cache API has no compare-and-set, so no
 * put can be made conditional on the value it replaces.
 */
export async function publishGeneration(cache: Cache, redis: Redis, value: number, ttlSeconds: number): Promise<number> {
  await recordGeneration(cache, String(value), ttlSeconds);
  for (let pass = 0; pass < CATCH_UP_PASSES; pass++) {
    const current = (await redis.get<number>(GENERATION_KEY)) ?? 0;
    if (current <= value) break;
    value = current;
    await recordGeneration(cache, String(value), ttlSeconds);
  }
  return value;
}

/**
 * Refills an absent record from a counter value read after the record was found absent. It puts
 * only if the record is still absent (a writer that put meanwhile wins), then catches up like a
 * writer, since a writer's put can still land between that check and this put.
 */
export async function refillGeneration(cache: Cache, redis: Redis, fromCounter: number, ttlSeconds: number): Promise<string> {
  const recorded = await recordedGeneration(cache, Date.now());
  if (recorded !== undefined) return recorded;
  return String(await publishGeneration(cache, redis, fromCounter, ttlSeconds));
}

/** The location's generation: its record (one Cache API lookup), else the counter in Redis; `undefined`: bypass. */
async function currentGeneration(cache: Cache, redis: () => Redis, ttlSeconds: number): Promise<string | undefined> {
  const now = Date.now();
  const recorded = await recordedGeneration(cache, now);
  if (recorded !== undefined || now < redisFailedAt + REDIS_RETRY_MS) return recorded;
  try {
    const start = counterStart();
    const counter = (await redis().set<number>(GENERATION_KEY, start, { nx: true, get: true })) as number | null;
    return await refillGeneration(cache, redis(), counter ?? start, ttlSeconds);
  } catch {
    redisFailedAt = Date.now();
    return undefined;
  }
}

/** Starts a new generation everywhere (Redis) and records it at this location, before the write answers. */
async function invalidate(cache: Cache, redis: Redis, ttlSeconds: number): Promise<void> {
  let value: number;
  try {
    // One round trip: the counter started where it is missing, then moved on.
    const [, next] = await redis.pipeline().set(GENERATION_KEY, counterStart(), { nx: true }).incr(GENERATION_KEY).exec<[unknown, number]>();
    value = next;
  } catch {
    redisFailedAt = Date.now();
    // A generation nobody else uses: this location stops serving what the write changed; other
    // locations see the write when their entries expire.
    return recordGeneration(cache, `local-${crypto.randomUUID()}`, ttlSeconds).catch(() => undefined);
  }
  try {
    await publishGeneration(cache, redis, value, ttlSeconds);
  } catch {
    // The catch-up read failed (the record holds the INCR's value), or the put did: then this
    // location keeps its old record until a later write or its expiry, as other locations do.
  }
}

// ---------------------------------------------------------------- the isolate tier

/** A cached answer as plain data: a Response belongs to the request that made it and cannot be shared. */
interface Entry {
  generation: string;
  body: string;
  etag: string;
  contentType: string;
  /** Epoch ms: `READ_CACHE_TTL_SECONDS` after the fill, in every tier. */
  expires: number;
}

/** Least recently used first (a Map keeps insertion order; a hit moves its entry to the end). */
const isolateEntries = new Map<string, Entry>();
let isolateBytes = 0;

function forget(key: string): void {
  const entry = isolateEntries.get(key);
  if (entry === undefined) return;
  isolateEntries.delete(key);
  isolateBytes -= entry.body.length;
}

function keep(key: string, entry: Entry): void {
  if (entry.body.length > ISOLATE_MAX_ENTRY_BYTES) return;
  forget(key);
  isolateEntries.set(key, entry);
  isolateBytes += entry.body.length;
  for (const oldest of isolateEntries.keys()) {
    if (isolateEntries.size <= ISOLATE_MAX_ENTRIES && isolateBytes <= ISOLATE_MAX_BYTES) break;
    forget(oldest);
  }
}

/**
 * The generation this isolate's last request read at: not trusted for anything (every request
 * asks the location), only used to free the memory of entries no request will look up again.
 */
let lastGeneration: string | undefined;

function sawGeneration(generation: string): void {
  if (generation === lastGeneration) return;
  lastGeneration = generation;
  for (const [key, entry] of isolateEntries) if (entry.generation !== generation && entry.generation !== SPECIES_GENERATION) forget(key);
}

function fromIsolate(key: string, now: number): Entry | undefined {
  const entry = isolateEntries.get(key);
  if (entry === undefined) return undefined;
  if (entry.expires <= now) {
    forget(key);
    return undefined;
  }
  isolateEntries.delete(key);
  isolateEntries.set(key, entry);
  return entry;
}

/** Makes this isolate what a newly started one is: nothing in memory (tests start each case so). */
export function forgetIsolateState(): void {
  filling.clear();
  lastGeneration = undefined;
  redisFailedAt = -Infinity;
  isolateEntries.clear();
  isolateBytes = 0;
}

// ---------------------------------------------------------------- the location tier (Cache API)

async function fromLocation(cache: Cache, key: string, generation: string, now: number): Promise<Entry | undefined> {
  // A lookup that fails is a miss: the database answers.
  const stored = await cache.match(key).catch(() => undefined);
  if (!stored) return undefined;
  const expires = Number(stored.headers.get(EXPIRES_HEADER));
  const etag = stored.headers.get('ETag');
  if (!(expires > now) || etag === null) return undefined;
  return { generation, body: await stored.text(), etag, contentType: stored.headers.get('Content-Type') ?? 'application/json', expires };
}

function toLocation(cache: Cache, key: string, entry: Entry, ttlSeconds: number): Promise<void> {
  const headers = { 'Content-Type': entry.contentType, ETag: entry.etag, 'Cache-Control': `max-age=${ttlSeconds}`, [EXPIRES_HEADER]: String(entry.expires) };
  return cache.put(key, new Response(entry.body, { headers }));
}

// ---------------------------------------------------------------- the middleware

/**
 * Whether a write to `path` can change what the cache holds: API keys are never cached, and an
 * upload changes data only when it is committed (`/uploads/{id}/commit`, or `commit=true`), not
 * while it is staged or its pieces arrive.
 */
export function changesCachedData(path: string, query: URLSearchParams): boolean {
  if (path === '/keys' || path.startsWith('/keys/')) return false;
  if (path === '/uploads' || path.startsWith('/uploads/')) return path.endsWith('/commit') || query.get('commit') === 'true';
  return true;
}

/** A miss being read right now in this isolate, which concurrent misses of its key wait for. */
interface Fill {
  entry: Promise<Entry | undefined>;
  startedAt: number;
}
const filling = new Map<string, Fill>();

/**
 * How long a miss waits for another request's fill of its key, in dependency timeouts (the
 * fill's read, then its put), before reading for itself. Workers may cancel a request whose
 * client went away, and with it the fill it was making: its promise then never settles, and whoever
 * waits on it would wait forever. A reader that waited this long fills in its place.
 */
const FILL_WAIT_TIMEOUTS = 2;

const TIMED_OUT = Symbol('timed out');

/** `promise`'s value, or {@link TIMED_OUT} if it has not settled within `ms`. */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let timer: ReturnType<typeof setTimeout> | null = null;
  const expiry = new Promise<typeof TIMED_OUT>((resolve) => (timer = setTimeout(() => resolve(TIMED_OUT), ms)));
  try {
    return await Promise.race([promise, expiry]);
  } finally {
    clearTimeout(timer);
  }
}

export const readCache = createMiddleware<AppEnv>(async (c, next) => {
  const services = c.var.services;
  const { config, roundTrips } = services;
  const ttlSeconds = config.readCacheTtlSeconds;

  // HEAD is routed to the GET handlers (the body is dropped afterwards).
  if (c.req.method !== 'GET' && c.req.method !== 'HEAD') {
    await next();
    // A 4xx changed nothing; a 5xx may have come after the database changed (e.g. Redis failed
    // after a commit), so it invalidates too.
    const status = c.res.status;
    if (ttlSeconds > 0 && (status < 400 || status >= 500) && changesCachedData(c.req.path, new URL(c.req.url).searchParams)) {
      await invalidate(caches.default, services.redis, ttlSeconds);
    }
    return;
  }
  const path = c.req.path;
  if (!isCacheablePath(path)) return next();

  const species = SPECIES.test(path);
  const privacy = config.auth.publicReads ? 'public' : 'private';
  const cacheControl = species ? `${privacy}, max-age=${SPECIES_TTL_SECONDS}` : `${privacy}, no-cache`;
  const cacheable = ttlSeconds > 0 && c.req.header('X-Bookmark') === undefined;
  const cache = caches.default;
  // Writes never change the Pokédex: its answers keep a generation of their own.
  const generation = !cacheable ? undefined : species ? SPECIES_GENERATION : await currentGeneration(cache, () => services.redis, ttlSeconds);

  if (generation === undefined) {
    roundTrips.cacheOutcome = 'bypass';
    await next();
    if (c.res.status !== 200) return;
    const body = await c.res.clone().text();
    return answer(c, { generation: '', body, etag: await etagOf(body), contentType: c.res.headers.get('Content-Type') ?? 'application/json', expires: 0 }, cacheControl);
  }

  if (!species) sawGeneration(generation);
  const key = readCacheKey(generation, c.req.url);
  const now = Date.now();
  let entry = fromIsolate(key, now);
  if (entry) {
    roundTrips.cacheOutcome = 'hit-isolate';
    return answer(c, entry, cacheControl);
  }
  entry = await fromLocation(cache, key, generation, now);
  if (entry) {
    roundTrips.cacheOutcome = 'hit-edge';
    keep(key, entry);
    return answer(c, entry, cacheControl);
  }

  const waitMs = FILL_WAIT_TIMEOUTS * config.database.timeoutMs;
  const running = filling.get(key);
  if (running !== undefined) {
    // A fill older than the wait is not waited for at all.
    const shared = await within(running.entry, Math.max(0, running.startedAt + waitMs - now));
    if (shared !== TIMED_OUT) {
      roundTrips.cacheOutcome = shared ? 'hit-coalesced' : 'miss';
      // The first reader got no answer worth sharing (e.g. a 404): this one asks for itself.
      if (!shared) return next();
      return answer(c, shared, cacheControl);
    }
    // No answer in time: this reader fills in its place.
  }

  roundTrips.cacheOutcome = 'miss';
  const fill: Fill = { entry: Promise.resolve(undefined), startedAt: Date.now() };
  fill.entry = (async (): Promise<Entry | undefined> => {
    services.db.session.readFromPrimary();
    await next();
    if (c.res.status !== 200) return undefined;
    const entryTtl = species ? SPECIES_TTL_SECONDS : ttlSeconds;
    const body = await c.res.clone().text();
    // Hashed once, at the fill: every hit sends the stored tag.
    const filled: Entry = { generation, body, etag: await etagOf(body), contentType: c.res.headers.get('Content-Type') ?? 'application/json', expires: Date.now() + entryTtl * 1000 };
    // A put that fails costs later readers a miss, not this one its answer.
    await toLocation(cache, key, filled, entryTtl).catch((error: unknown) => noteError(c, 'read cache fill', error));
    // Kept in memory only if no later request of this isolate read at a newer generation.
    if (species || lastGeneration === generation) keep(key, filled);
    return filled;
  })().finally(() => {
    if (filling.get(key) === fill) filling.delete(key);
  });
  filling.set(key, fill);
  entry = await fill.entry;
  if (entry) answer(c, entry, cacheControl);
});

/** Sets the answer from `entry`: 304 when `If-None-Match` names its tag, else 200 with the body. */
function answer(c: Context<AppEnv>, entry: Entry, cacheControl: string): void {
  const headers = { 'Content-Type': entry.contentType, ETag: entry.etag, 'Cache-Control': cacheControl };
  c.res = matches(c.req.header('If-None-Match'), entry.etag) ? new Response(null, { status: 304, headers }) : new Response(entry.body, { status: 200, headers });
}
