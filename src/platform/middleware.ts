import { createMiddleware } from 'hono/factory';
import type { AppEnv } from '../env.ts';
import { createCache } from './cache.ts';
import { createDatabase } from './database.ts';
import { RoundTrips } from './round-trips.ts';

/** A client-sent request id is echoed only if it is short and printable, so logs stay clean. */
const SAFE_REQUEST_ID = /^[\x21-\x7e]{1,128}$/;

/**
 * Gives every request an id (`X-Request-Id`, echoed when sent), its database and cache
 * handles, and a `Server-Timing` header with the round trips it made to each.
 */
export const requestContext = createMiddleware<AppEnv>(async (c, next) => {
  const sent = c.req.header('X-Request-Id');
  const requestId = sent && SAFE_REQUEST_ID.test(sent) ? sent : crypto.randomUUID();
  const roundTrips = new RoundTrips();
  c.set('requestId', requestId);
  c.set('roundTrips', roundTrips);
  c.set('db', createDatabase(c.env, roundTrips));
  c.set('cache', createCache(c.env, roundTrips));
  await next();
  c.header('X-Request-Id', requestId);
  c.header('Server-Timing', roundTrips.toServerTiming());
});
