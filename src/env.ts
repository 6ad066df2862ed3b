import type { Principal } from './http/auth.ts';
import type { RateLimiterBinding } from './platform/config.ts';
import type { Services } from './platform/services.ts';

/**
 * Worker bindings: secrets and vars from `wrangler.toml` / `wrangler secret put` / `.dev.vars`.
 * All are strings; `platform/config.ts` parses them once into a typed configuration.
 */
export interface Bindings {
  /** Postgres connection string (Neon's, in production). */
  DATABASE_URL: string;
  /** Read replicas' connection strings, comma-separated; unset: every read goes to the primary. */
  DATABASE_REPLICA_URL?: string;
  /** Set only for local stand-ins: the full URL of the SQL-over-HTTP endpoint, e.g. `http://127.0.0.1:4444/sql`. */
  NEON_FETCH_ENDPOINT?: string;
  UPSTASH_REDIS_REST_URL: string;
  UPSTASH_REDIS_REST_TOKEN: string;
  /** Per-round-trip timeout for the primary database and Redis, in milliseconds (default 5000). */
  DEPENDENCY_TIMEOUT_MS?: string;
  /** Per-round-trip timeout for a read replica before the read goes to the primary, in milliseconds (default 1000). */
  REPLICA_TIMEOUT_MS?: string;
  /** Seconds a CSV upload stays staged before it expires (default 3600). */
  UPLOAD_TTL_SECONDS?: string;
  /** Largest CSV file, in bytes: all pieces of a resumable upload (default 134217728: 128 MiB). */
  UPLOAD_MAX_BYTES?: string;
  /** Largest upload request body, in bytes: a single-request upload or one piece (default 52428800: 50 MiB). */
  UPLOAD_MAX_PIECE_BYTES?: string;
  /** Most data rows one CSV upload may have (default 2000000). */
  UPLOAD_MAX_ROWS?: string;
  /** Staged bytes one API key may keep in Redis per `UPLOAD_TTL_SECONDS` (default 268435456: 256 MiB). */
  UPLOAD_QUOTA_BYTES?: string;
  /** The bootstrap admin API key (a secret, ≥ 32 characters): manages keys, needs no database row, no rate limit. */
  ADMIN_API_KEY?: string;
  /** Seconds a cached read lives at a location (default 60; `0` turns the read cache off). */
  READ_CACHE_TTL_SECONDS?: string;
  /** `false`: reads need a key with the `read` scope too (default `true`). */
  PUBLIC_READS?: string;
  /** Origins granted CORS, comma-separated (default: none). */
  CORS_ORIGINS?: string;
  /** Requests per window for a key without a limit of its own (default 600 per 60 s). */
  RATE_LIMIT_REQUESTS?: string;
  RATE_LIMIT_WINDOW_SECONDS?: string;
  /** Workers Rate Limiting binding for anonymous clients, per IP (`[[ratelimits]]` in wrangler.toml). */
  ANON_RATE_LIMITER?: RateLimiterBinding;
}

/** Per-request values set by middleware. */
export interface Variables {
  requestId: string;
  services: Services;
  /** The caller's API key; `undefined` for anonymous requests. */
  principal: Principal | undefined;
}

export interface AppEnv {
  Bindings: Bindings;
  Variables: Variables;
}
