/**
 * One JSON line per request on `console.log`, which Workers Logs (`[observability]` in
 * wrangler.toml) stores and indexes field by field. Errors appear here with their stack — and
 * only here: answers never carry one. Nothing secret is logged: no header, no query string, no
 * body; the API key by its id.
 *
 * Except a read the cache answered with no round trip at all: its line would say nothing that
 * Workers' own invocation log of the request (URL, status, CPU and wall time) does not, and
 * under `wrangler dev` writing it cost a hit more than its cache lookup did (bench/cache.ts).
 */
import type { Context } from 'hono';
import { matchedRoutes } from 'hono/route';
import { createMiddleware } from 'hono/factory';
import type { AppEnv } from '../env.ts';
import { DEPENDENCIES, type RoundTrips } from './round-trips.ts';

interface LoggedError {
  /** What failed, when it was not the request itself (e.g. `health: redis`). */
  during?: string;
  name: string;
  message: string;
  stack?: string | undefined;
}

const noted = new WeakMap<Context, LoggedError[]>();

function describe(error: unknown, during?: string): LoggedError {
  const { name, message, stack } = error instanceof Error ? error : { name: 'Error', message: String(error), stack: undefined };
  // The cause is where a wrapped failure (a query error around a timeout) says what happened.
  const cause = error instanceof Error && error.cause !== undefined ? `\ncaused by: ${error.cause instanceof Error ? (error.cause.stack ?? error.cause.message) : String(error.cause)}` : '';
  return { ...(during === undefined ? {} : { during }), name, message, stack: stack === undefined ? undefined : stack + cause };
}

/** Records an error the request survived (a health probe, a cache write), for its log line. */
export function noteError(c: Context, during: string, error: unknown): void {
  const list = noted.get(c) ?? [];
  list.push(describe(error, during));
  noted.set(c, list);
}

/** The route pattern that answered (`/pokemon/:id`), or `null` when none matched. */
function routeOf(c: Context): string | null {
  return matchedRoutes(c).findLast((route) => route.method !== 'ALL')?.path ?? null;
}

/** A hit (or a 304 of one) that made no round trip: authentication, say, may still have asked the database. */
function answeredFromCache(roundTrips: RoundTrips, status: number): boolean {
  return roundTrips.cacheOutcome?.startsWith('hit') === true && status < 400 && DEPENDENCIES.every((dependency) => roundTrips.count(dependency) === 0);
}

/** Logs the request once it has been answered. */
export const requestLog = createMiddleware<AppEnv>(async (c, next) => {
  const started = performance.now();
  await next();
  const status = c.res.status;
  const services = c.get('services');
  const errors = [...(noted.get(c) ?? [])];
  // c.error: what the error handler answered. A 4xx is the client's mistake, told in the answer; a 5xx is ours.
  if (c.error !== undefined && status >= 500) errors.unshift(describe(c.error));
  if (services && answeredFromCache(services.roundTrips, status) && errors.length === 0) return;
  const line = {
    level: status >= 500 ? 'error' : 'info',
    requestId: c.get('requestId'),
    method: c.req.method,
    route: routeOf(c),
    status,
    durationMs: Math.round((performance.now() - started) * 10) / 10,
    roundTrips: services && { db: services.roundTrips.count('db'), replica: services.roundTrips.count('replica'), redis: services.roundTrips.count('redis') },
    ...(c.get('principal') ? { keyId: c.get('principal')!.id } : {}),
    ...(errors.length > 0 ? { errors } : {}),
  };
  console.log(JSON.stringify(line));
});
