/**
 * The per-request services: built once per request by {@link services} middleware from the
 * parsed configuration (the database and Redis handles at their first use), and reached by
 * handlers as `c.var.services`.
 */
import { createMiddleware } from 'hono/factory';
import type { AppEnv } from '../env.ts';
import { formatBookmark, parseBookmark, type Bookmark } from './bookmark.ts';
import { configFor, type Config } from './config.ts';
import { createDatabases, type Databases } from './database.ts';
import { Problem } from './problem.ts';
import { createRedis, type Redis } from './redis.ts';
import { RoundTrips } from './round-trips.ts';

export interface Services {
  config: Config;
  /** `db.primary` for writes, `db.replica` for reads (a replica when configured and fresh enough). */
  db: Databases;
  /** Staged uploads and idempotency state. */
  redis: Redis;
  roundTrips: RoundTrips;
}

/** A client-sent request id is echoed only if it is short and printable, so logs stay clean. */
const SAFE_REQUEST_ID = /^[\x21-\x7e]{1,128}$/;

function requestedBookmark(header: string | undefined): Bookmark | undefined {
  if (header === undefined) return undefined;
  const bookmark = parseBookmark(header);
  if (bookmark) return bookmark;
  throw new Problem('validation-failed', 'The X-Bookmark header is not a bookmark this API issued.', {
    errors: [{ parameter: 'X-Bookmark', detail: 'X-Bookmark must be the X-Bookmark of an earlier response.' }],
  });
}

/**
 * Gives every request an id (`X-Request-Id`, echoed when sent) and its services, and stamps
 * the answer with `Server-Timing` (round trips per dependency) and, when the database was
 * reached, `X-Bookmark`.
 */
export const services = createMiddleware<AppEnv>(async (c, next) => {
  const sent = c.req.header('X-Request-Id');
  const requestId = sent && SAFE_REQUEST_ID.test(sent) ? sent : crypto.randomUUID();
  const roundTrips = new RoundTrips();
  c.set('requestId', requestId);
  // A configuration or bookmark error answers from here (the problem carries the request id).
  const config = configFor(c.env);
  const requested = requestedBookmark(c.req.header('X-Bookmark'));
  // Built on first use, once: a read the cache answers needs neither database nor Redis handles.
  let db: Databases | undefined;
  let redis: Redis | undefined;
  c.set('services', {
    config,
    get db() {
      return (db ??= createDatabases(config.database, roundTrips, requested));
    },
    get redis() {
      return (redis ??= createRedis(config.redis, roundTrips));
    },
    roundTrips,
  });
  await next();
  c.header('X-Request-Id', requestId);
  c.header('Server-Timing', roundTrips.toServerTiming());
  const bookmark = db?.session.bookmark;
  if (bookmark) c.header('X-Bookmark', formatBookmark(bookmark));
});
