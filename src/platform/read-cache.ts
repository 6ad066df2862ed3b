/**
 * The edge read cache, cache-aside: cacheable GETs are answered from the Workers Cache API of
 * the location (`caches.default`: no subrequest, no database round trip), else from the database
 * and stored there for `READ_CACHE_TTL_SECONDS`.
 *
 * Freshness comes from a **generation**: every cached answer is stored under the generation that
 * was current when it was read, and every successful write bumps the generation (in Redis, shared
 * by all locations, and in this location's own record) *before it answers*. So after a write
 * nothing cached before it is ever served here again — whatever it changed, cascades and list
 * pages included — and a slow read that started before the write and stores its answer after it
 * stores it under the old generation, where nobody looks: the fill/invalidate race cannot leave
 * an old value in view. A location that did not see the write keeps its generation record until
 * it expires (at most the TTL), so it may serve answers up to one TTL old.
 *
 * A miss reads from the primary, never a lagging replica, so a stored answer is never older
 * than the writes that came before it; requests carrying `X-Bookmark` skip the cache (the
 * database's freshness check answers them). Redis down: reads go to the database, writes still
 * invalidate this location (with a generation of their own), never a 503 because of the cache.
 */
import { createMiddleware } from 'hono/factory';
import type { AppEnv } from '../env.ts';
import { sha256 } from './hashing.ts';
import type { Redis } from './redis.ts';

/** The answers worth caching: plain reads of the API's resources (not keys, uploads, health or docs). */
const CACHEABLE = /^\/(trainers|pokemon|exchanges|species)(\/[^/]+(\/(pokemon|history))?)?$/;
/** True for the paths the read cache answers (and `ETag`s); path templates (`/trainers/{id}`) match too. */
export function isCacheablePath(path: string): boolean {
  return CACHEABLE.test(path);
}
/** The Pokédex changes only with a migration: cached for an hour whatever the TTL. */
const SPECIES = /^\/species(\/|$)/;
const SPECIES_TTL_SECONDS = 3600;

export const GENERATION_KEY = 'readcache:generation';
/** Cache API keys must be URLs; this host is never fetched. */
const CACHE_ORIGIN = 'https://read-cache.internal';
export const generationUrl = `${CACHE_ORIGIN}/generation`;

/** The Cache API key of an answer to `path?query` read at `generation` (query parameters sorted). */
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

/** This location's current generation, from its own record or (when it has none) from Redis. */
async function currentGeneration(cache: Cache, redis: Redis, ttlSeconds: number): Promise<string | undefined> {
  const local = await cache.match(generationUrl);
  if (local) return local.text();
  try {
    const generation = String((await redis.get<number>(GENERATION_KEY)) ?? 0);
    await remember(cache, generation, ttlSeconds);
    return generation;
  } catch {
    return undefined;
  }
}

function remember(cache: Cache, generation: string, ttlSeconds: number): Promise<void> {
  return cache.put(generationUrl, new Response(generation, { headers: { 'Cache-Control': `max-age=${ttlSeconds}` } }));
}

/** Starts a new generation everywhere (Redis) and here (this location's record). */
async function invalidate(cache: Cache, redis: Redis, ttlSeconds: number): Promise<void> {
  let generation: string;
  try {
    generation = String(await redis.incr(GENERATION_KEY));
  } catch {
    // Other locations will catch up within a TTL; this one must not serve what the write changed.
    generation = `local-${crypto.randomUUID()}`;
  }
  await remember(cache, generation, ttlSeconds);
}

/** A filled answer as plain data: a Response belongs to the request that made it and cannot be shared. */
interface Filled {
  body: string;
  headers: [string, string][];
}

/** Misses of one key being read right now in this isolate: concurrent ones wait for the first. */
const filling = new Map<string, Promise<Filled | undefined>>();

export const readCache = createMiddleware<AppEnv>(async (c, next) => {
  const { config, redis, db, roundTrips } = c.var.services;
  const ttlSeconds = config.readCacheTtlSeconds;
  const path = c.req.path;
  const cache = caches.default;

  // HEAD is routed to the GET handlers (the body is dropped afterwards).
  if (c.req.method !== 'GET' && c.req.method !== 'HEAD') {
    await next();
    // A 4xx changed nothing; a 5xx may have come after the database changed (e.g. Redis failed
    // after a commit), so it invalidates too.
    const status = c.res.status;
    if (ttlSeconds > 0 && (status < 400 || status >= 500)) await invalidate(cache, redis, ttlSeconds);
    return;
  }
  if (!isCacheablePath(path)) return next();

  const privacy = config.auth.publicReads ? 'public' : 'private';
  const cacheControl = SPECIES.test(path) ? `${privacy}, max-age=${SPECIES_TTL_SECONDS}` : `${privacy}, no-cache`;
  const cacheable = ttlSeconds > 0 && c.req.header('X-Bookmark') === undefined;
  // Writes never change the Pokédex: its answers keep a generation of their own.
  const generation = !cacheable ? undefined : SPECIES.test(path) ? 'species' : await currentGeneration(cache, redis, ttlSeconds);

  let cached: Response | undefined;
  if (generation !== undefined) {
    const key = readCacheKey(generation, new URL(c.req.url));
    cached = await cache.match(key);
    roundTrips.cacheOutcome = cached ? 'hit-edge' : 'miss';
    if (!cached) {
      let fill = filling.get(key);
      if (fill === undefined) {
        fill = (async () => {
          db.session.readFromPrimary();
          await next();
          if (c.res.status !== 200) return undefined;
          const body = await c.res.clone().text();
          const entryTtl = SPECIES.test(path) ? SPECIES_TTL_SECONDS : ttlSeconds;
          const headers: [string, string][] = [
            ['Content-Type', c.res.headers.get('Content-Type') ?? 'application/json'],
            ['ETag', await etagOf(body)],
            ['Cache-Control', `max-age=${entryTtl}`],
          ];
          await cache.put(key, new Response(body, { headers }));
          return { body, headers };
        })().finally(() => filling.delete(key));
        filling.set(key, fill);
        await fill;
      } else {
        const filled = await fill;
        cached = filled && new Response(filled.body, { headers: filled.headers });
        roundTrips.cacheOutcome = cached ? 'hit-coalesced' : 'miss';
        // The first reader got no answer worth sharing (e.g. a 404): this one asks for itself.
        if (!cached) await next();
      }
    }
  } else {
    roundTrips.cacheOutcome = 'bypass';
    await next();
  }

  const answer = cached ?? c.res;
  if (answer.status !== 200) return;
  const etag = answer.headers.get('ETag') ?? (await etagOf(await answer.clone().text()));
  const headers = new Headers(answer.headers);
  headers.set('ETag', etag);
  headers.set('Cache-Control', cacheControl);
  headers.delete('Age');
  if (matches(c.req.header('If-None-Match'), etag)) {
    c.res = new Response(null, { status: 304, headers });
    return;
  }
  c.res = new Response(answer.body, { status: 200, headers });
});
