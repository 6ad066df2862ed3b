import { neon, neonConfig, NeonDbError } from '@neondatabase/serverless';
import { drizzle } from 'drizzle-orm/neon-http';
import type { Bindings } from '../env.ts';
import * as schema from '../db/schema.ts';
import { DependencyUnavailableError, dependencyTimeout, errorChain } from './dependency-error.ts';
import type { RoundTrips } from './round-trips.ts';

/** Per-request context that travels to {@link neonFetch} inside the fetch init (Neon spreads `fetchOptions` into it). */
const REQUEST_CONTEXT = Symbol('neon request context');

interface NeonRequestContext {
  roundTrips: RoundTrips;
  timeoutMs: number;
  /** Overrides the URL Neon derives from the connection string (local stand-ins only). */
  endpoint: string | undefined;
}

/**
 * Every Neon HTTP round trip goes through here: counted, timed, bounded by a timeout, and
 * turned into a {@link DependencyUnavailableError} when the database cannot be reached.
 * `fetchFunction` is global in @neondatabase/serverless, so per-request state comes in `init`.
 */
async function neonFetch(url: string, init: RequestInit & { [REQUEST_CONTEXT]?: NeonRequestContext }): Promise<Response> {
  const { [REQUEST_CONTEXT]: context, ...requestInit } = init;
  if (!context) return fetch(url, requestInit);
  return context.roundTrips.measure('db', async () => {
    try {
      const response = await fetch(context.endpoint ?? url, { ...requestInit, signal: AbortSignal.timeout(context.timeoutMs) });
      // Neon answers 400 for SQL errors; 5xx means the service (or the database behind it) is down.
      if (response.status >= 500) throw new Error(`HTTP ${response.status}: ${(await response.text()).slice(0, 200)}`);
      // Read the body inside the timeout, then hand the client a buffered copy.
      return new Response(await response.arrayBuffer(), response);
    } catch (error) {
      throw new DependencyUnavailableError('db', error);
    }
  });
}
neonConfig.fetchFunction = neonFetch;

/**
 * Creates the request's database handle: drizzle over Neon's HTTP driver (one fetch per
 * query, one per `db.batch([...])` transaction), measured into `roundTrips`.
 */
export function createDatabase(env: Bindings, roundTrips: RoundTrips) {
  const context: NeonRequestContext = {
    roundTrips,
    timeoutMs: dependencyTimeout(env.DEPENDENCY_TIMEOUT_MS),
    endpoint: env.NEON_FETCH_ENDPOINT,
  };
  const sql = neon(env.DATABASE_URL, { fetchOptions: { [REQUEST_CONTEXT]: context } });
  return drizzle({ client: sql, schema, casing: 'snake_case' });
}

export type Database = ReturnType<typeof createDatabase>;

/** The SQLSTATE of a database error, looking through drizzle's wrapper (`23505`, `23503`, …). */
export function sqlState(error: unknown): string | undefined {
  for (const link of errorChain(error)) if (link instanceof NeonDbError) return link.code;
  return undefined;
}
