import type { Database } from './platform/database.ts';
import type { Cache } from './platform/cache.ts';
import type { RoundTrips } from './platform/round-trips.ts';

/** Worker bindings: secrets and vars from `wrangler.toml` / `wrangler secret put` / `.dev.vars`. */
export interface Bindings {
  /** Postgres connection string (Neon's, in production). */
  DATABASE_URL: string;
  /** Set only for local stand-ins: the full URL of the SQL-over-HTTP endpoint, e.g. `http://127.0.0.1:4444/sql`. */
  NEON_FETCH_ENDPOINT?: string;
  UPSTASH_REDIS_REST_URL: string;
  UPSTASH_REDIS_REST_TOKEN: string;
  /** Per-round-trip timeout for database and cache calls, in milliseconds (default 5000). */
  DEPENDENCY_TIMEOUT_MS?: string;
  /** Seconds a CSV upload stays staged before it expires (default 3600). */
  UPLOAD_TTL_SECONDS?: string;
  /** Largest CSV upload body, in bytes (default 52428800: 50 MiB). */
  UPLOAD_MAX_BYTES?: string;
  /** Most data rows one CSV upload may have (default 200000). */
  UPLOAD_MAX_ROWS?: string;
}

/** A binding holding a positive whole number, or `fallback` when it is unset or anything else. */
export function positiveIntegerBinding(value: string | undefined, fallback: number): number {
  const number = Number(value);
  return Number.isSafeInteger(number) && number > 0 ? number : fallback;
}

/** Per-request values set by middleware. */
export interface Variables {
  requestId: string;
  roundTrips: RoundTrips;
  db: Database;
  cache: Cache;
}

export interface AppEnv {
  Bindings: Bindings;
  Variables: Variables;
}
