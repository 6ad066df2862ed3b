/**
 * The edge read cache, cache-aside, in two tiers: this isolate's memory (a bounded LRU map: no
 * I/O at all), then the Workers Cache API of the location (`caches.default`: shared by the
 * location's isolates, no subrequest); a miss in both reads the primary and fills both, for
 * `READ_CACHE_TTL_SECONDS`.
 *
 * Freshness comes from a **generation**: every cached answer is stored under the generation that
 * was current when it was read, and every write bumps the generation *before it answers* — in
 * Redis (one `INCR`, shared by all locations) and, at once, in this isolate. So after a write
 * nothing cached before it is ever served by this isolate again, whatever it changed (cascades
 * and list pages included); and a slow read that started before the write stores its answer
 * under the old generation, where nobody looks.
 *
 * An isolate trusts the generation it last learned for {@link GENERATION_TRUST_MS}, then asks
 * Redis again (one `GET`, shared by concurrent requests): other isolates and locations see a
 * write within that time. What an isolate knows only moves forward — a `GET` answered before a
 * write's `INCR` cannot roll it back — and it lives in isolate memory, where compare-and-set is
 * a plain comparison: the Cache API has no compare-and-set, so a location-wide record could be
 * rolled back by a slow reader. Every entry also expires `READ_CACHE_TTL_SECONDS` after its
 * fill, so no answer is ever older than the TTL, whatever Redis does.
 *
 * A miss reads from the primary, never a lagging replica, so a stored answer is never older
 * than the writes that came before it; requests carrying `X-Bookmark` skip the cache (the
 * database's freshness check answers them). Redis down: reads go to the database; a write
 * still invalidates this isolate, with a generation of its own kept for a whole TTL (until
 * everything filled before the write has expired). Never a 503 because of the cache.
 */
import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import type { AppEnv } from '../env.ts';
import { sha256 } from './hashing.ts';
import type { Redis } from './redis.ts';

/** The answers worth caching: plain reads of the API's resources (not keys, uploads, health or docs). */
const CACHEABLE = /^\/(trainers|pokemon|exchanges|species)(\/[^/]+(\/(pokemon|history))?)?$/;
/** The Pokédex changes only with a migration: cached for an hour whatever the TTL, under a generation of its own. */
const SPECIES = /^\/species(\/|$)/;
const SPECIES_TTL_SECONDS = 3600;
const SPECIES_GENERATION = 'species';

export const GENERATION_KEY = 'readcache:generation';
/** How long an isolate serves from the generation it learned before asking Redis again: the bound on what other isolates and locations may serve after a write. */
const GENERATION_TRUST_MS = 5_000;
/** Cache API keys must be URLs; this host is never fetched. */
const CACHE_ORIGIN = 'https://read-cache.internal';

/** The isolate tier's bounds: well inside a 128 MB isolate; a larger answer is kept by the Cache API only. */
const ISOLATE_MAX_ENTRIES = 2_000;
const ISOLATE_MAX_BYTES = 16 * 1024 * 1024;
const ISOLATE_MAX_ENTRY_BYTES = 256 * 1024;

/** The cache key of an answer to `path?query` read at `generation` (query parameters sorted). */
export function readCacheKey(generation: string, url: URL): string {
  const query = [...url.searchParams].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const search = new URLSearchParams(query).toString();
  return `${CACHE_ORIGIN}/${encodeURIComponent(generation)}${url.pathname}${search ? `?${search}` : ''}`;
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

// ---------------------------------------------------------------- the generation, as this isolate knows it

type Known =
  /** Learned from Redis; trusted until `checkedAt + GENERATION_TRUST_MS`. `advancedAt`: when it last moved forward. */
  | { kind: 'redis'; value: number; checkedAt: number; advancedAt: number }
  /**
   * Redis could not be trusted for a write (unreachable, or its counter went back): a generation
   * nobody else uses, kept until everything filled before then has expired.
   */
  | { kind: 'local'; value: string; until: number }
  /** Redis did not answer: no cached reads until then (bypass, without asking again on every request). */
  | { kind: 'unavailable'; until: number };

let known: Known | undefined;
/** The `GET` in flight, shared by the requests that need the generation at once. */
let refreshing: Promise<void> | undefined;

/** The generation to read and fill at, if this isolate knows one it may trust now. */
function trustedGeneration(now: number): string | undefined {
  if (known?.kind === 'redis' && now < known.checkedAt + GENERATION_TRUST_MS) return String(known.value);
  if (known?.kind === 'local' && now < known.until) return known.value;
  return undefined;
}

function startLocalGeneration(ttlSeconds: number): void {
  known = { kind: 'local', value: `local-${crypto.randomUUID()}`, until: Date.now() + ttlSeconds * 1000 };
  evictOtherGenerations();
}

/**
 * Takes what Redis said at `sentAt` (a `GET`, or a write's `INCR` when `wrote`): it only moves
 * the generation forward. A lower value answered to a request sent before the last advance is a
 * read that raced a write (ignored); one sent after it means Redis lost its counter.
 */
export function learnGeneration(value: number, sentAt: number, ttlSeconds: number, wrote = false): void {
  const now = Date.now();
  if (known?.kind === 'local' && now < known.until) {
    if (wrote) startLocalGeneration(ttlSeconds);
    return;
  }
  if (known?.kind !== 'redis' || value > known.value) {
    known = { kind: 'redis', value, checkedAt: sentAt, advancedAt: now };
    evictOtherGenerations();
  } else if (value === known.value && !wrote) {
    known.checkedAt = Math.max(known.checkedAt, sentAt);
  } else if (wrote || sentAt >= known.advancedAt) {
    startLocalGeneration(ttlSeconds);
  }
}

/** This isolate's generation, asking Redis when it no longer trusts what it knows; `undefined`: bypass. */
async function currentGeneration(redis: () => Redis, ttlSeconds: number): Promise<string | undefined> {
  const now = Date.now();
  const trusted = trustedGeneration(now);
  if (trusted !== undefined || (known?.kind === 'unavailable' && now < known.until)) return trusted;
  refreshing ??= (async () => {
    const sentAt = Date.now();
    try {
      learnGeneration((await redis().get<number>(GENERATION_KEY)) ?? 0, sentAt, ttlSeconds);
    } catch {
      known = { kind: 'unavailable', until: Date.now() + GENERATION_TRUST_MS };
    }
  })().finally(() => (refreshing = undefined));
  await refreshing;
  return trustedGeneration(Date.now());
}

/** Starts a new generation everywhere (Redis) and in this isolate, before the write answers. */
async function invalidate(redis: Redis, ttlSeconds: number): Promise<void> {
  const sentAt = Date.now();
  try {
    learnGeneration(await redis.incr(GENERATION_KEY), sentAt, ttlSeconds, true);
  } catch {
    // Other isolates catch up when their entries expire; this one must not serve what the write changed.
    startLocalGeneration(ttlSeconds);
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

/** After the generation moves, entries of older ones can never be served: free their memory now. */
function evictOtherGenerations(): void {
  const current = trustedGeneration(Date.now());
  for (const [key, entry] of isolateEntries) if (entry.generation !== current && entry.generation !== SPECIES_GENERATION) forget(key);
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

/** Makes this isolate what a newly started one is: no generation known, nothing in memory (tests start each case so). */
export function forgetIsolateState(): void {
  known = undefined;
  isolateEntries.clear();
  isolateBytes = 0;
}

// ---------------------------------------------------------------- the location tier (Cache API)

const EXPIRES_HEADER = 'X-Read-Cache-Expires';

async function fromLocation(cache: Cache, key: string, generation: string, now: number): Promise<Entry | undefined> {
  const stored = await cache.match(key);
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

/** Misses of one key being read right now in this isolate: concurrent ones wait for the first. */
const filling = new Map<string, Promise<Entry | undefined>>();

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
    if (ttlSeconds > 0 && (status < 400 || status >= 500)) await invalidate(services.redis, ttlSeconds);
    return;
  }
  const path = c.req.path;
  if (!CACHEABLE.test(path)) return next();

  const species = SPECIES.test(path);
  const privacy = config.auth.publicReads ? 'public' : 'private';
  const cacheControl = species ? `${privacy}, max-age=${SPECIES_TTL_SECONDS}` : `${privacy}, no-cache`;
  const cacheable = ttlSeconds > 0 && c.req.header('X-Bookmark') === undefined;
  // Writes never change the Pokédex: its answers keep a generation of their own.
  const generation = !cacheable ? undefined : species ? SPECIES_GENERATION : await currentGeneration(() => services.redis, ttlSeconds);

  if (generation === undefined) {
    roundTrips.cacheOutcome = 'bypass';
    await next();
    if (c.res.status !== 200) return;
    const body = await c.res.clone().text();
    return answer(c, { generation: '', body, etag: await etagOf(body), contentType: c.res.headers.get('Content-Type') ?? 'application/json', expires: 0 }, cacheControl);
  }

  const key = readCacheKey(generation, new URL(c.req.url));
  const now = Date.now();
  let entry = fromIsolate(key, now);
  if (entry) {
    roundTrips.cacheOutcome = 'hit-isolate';
    return answer(c, entry, cacheControl);
  }
  const cache = caches.default;
  entry = await fromLocation(cache, key, generation, now);
  if (entry) {
    roundTrips.cacheOutcome = 'hit-edge';
    keep(key, entry);
    return answer(c, entry, cacheControl);
  }

  const running = filling.get(key);
  if (running !== undefined) {
    entry = await running;
    roundTrips.cacheOutcome = entry ? 'hit-coalesced' : 'miss';
    // The first reader got no answer worth sharing (e.g. a 404): this one asks for itself.
    if (!entry) return next();
    return answer(c, entry, cacheControl);
  }

  roundTrips.cacheOutcome = 'miss';
  const fill = (async (): Promise<Entry | undefined> => {
    services.db.session.readFromPrimary();
    await next();
    if (c.res.status !== 200) return undefined;
    const entryTtl = species ? SPECIES_TTL_SECONDS : ttlSeconds;
    const body = await c.res.clone().text();
    // Hashed once, at the fill: every hit sends the stored tag.
    const filled: Entry = { generation, body, etag: await etagOf(body), contentType: c.res.headers.get('Content-Type') ?? 'application/json', expires: Date.now() + entryTtl * 1000 };
    await toLocation(cache, key, filled, entryTtl);
    // Kept only if the generation is still the one read at: a write in between made it old.
    if (generation === SPECIES_GENERATION || trustedGeneration(Date.now()) === generation) keep(key, filled);
    return filled;
  })().finally(() => filling.delete(key));
  filling.set(key, fill);
  entry = await fill;
  if (entry) answer(c, entry, cacheControl);
});

/** Sets the answer from `entry`: 304 when `If-None-Match` names its tag, else 200 with the body. */
function answer(c: Context<AppEnv>, entry: Entry, cacheControl: string): void {
  const headers = { 'Content-Type': entry.contentType, ETag: entry.etag, 'Cache-Control': cacheControl };
  c.res = matches(c.req.header('If-None-Match'), entry.etag) ? new Response(null, { status: 304, headers }) : new Response(entry.body, { status: 200, headers });
}
