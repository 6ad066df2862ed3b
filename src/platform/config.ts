/**
 * The Worker's configuration: its bindings parsed once per isolate (per bindings object) into a
 * typed {@link Config}. A missing or invalid binding is a {@link ConfigError} naming it, which
 * the error handler answers as a 503 `misconfigured` problem.
 */
import { z } from 'zod';
import type { Bindings } from '../env.ts';

/** A binding that is missing or does not parse: the deployment, not the request, is wrong. */
export class ConfigError extends Error {
  readonly binding: string;
  constructor(binding: string, reason: string) {
    super(`The binding ${binding} ${reason}.`);
    this.binding = binding;
  }
}

const connectionString = z
  .string()
  .trim()
  .refine((value) => /^postgres(ql)?:\/\/[^/]+\/[^/?#]+/.test(value) && URL.canParse(value), 'must be a postgres:// connection string');

const httpUrl = z
  .string()
  .trim()
  .refine((value) => URL.canParse(value) && /^https?:$/.test(new URL(value).protocol), 'must be an http(s) URL');

/** A whole number > 0 written in decimal digits (bindings are strings). */
const positiveInteger = (fallback: number) =>
  z
    .string()
    .trim()
    .regex(/^[1-9]\d{0,14}$/, 'must be a whole number greater than 0')
    .transform(Number)
    .optional()
    .transform((value) => value ?? fallback);

/** `true` or `false` (bindings are strings). */
const flag = (fallback: boolean) =>
  z
    .enum(['true', 'false'], { error: 'must be true or false' })
    .optional()
    .transform((value) => (value === undefined ? fallback : value === 'true'));

/** A comma-separated list, trimmed, empty items dropped. */
const list = z
  .string()
  .optional()
  .transform((value) => (value ?? '').split(',').map((item) => item.trim()).filter((item) => item !== ''));

/** The Workers Rate Limiting binding (`[[ratelimits]]` in wrangler.toml). */
export interface RateLimiterBinding {
  limit(options: { key: string }): Promise<{ success: boolean }>;
}

const bindingsSchema = z.object({
  DATABASE_URL: connectionString,
  DATABASE_REPLICA_URL: list.pipe(z.array(connectionString)),
  NEON_FETCH_ENDPOINT: httpUrl.optional(),
  UPSTASH_REDIS_REST_URL: httpUrl,
  UPSTASH_REDIS_REST_TOKEN: z.string().trim().min(1, 'must not be empty'),
  DEPENDENCY_TIMEOUT_MS: positiveInteger(5_000),
  REPLICA_TIMEOUT_MS: positiveInteger(1_000),
  UPLOAD_TTL_SECONDS: positiveInteger(3_600),
  UPLOAD_MAX_BYTES: positiveInteger(128 * 1024 * 1024),
  UPLOAD_MAX_PIECE_BYTES: positiveInteger(50 * 1024 * 1024),
  UPLOAD_MAX_ROWS: positiveInteger(2_000_000),
  UPLOAD_QUOTA_BYTES: positiveInteger(256 * 1024 * 1024),
  READ_CACHE_TTL_SECONDS: z
    .string()
    .trim()
    .regex(/^(0|[1-9]\d{0,6})$/, 'must be a whole number of seconds (0 turns the cache off)')
    .transform(Number)
    .optional()
    .transform((value) => value ?? 60),
  ADMIN_API_KEY: z.string().min(32, 'must be at least 32 characters').optional(),
  PUBLIC_READS: flag(true),
  CORS_ORIGINS: list.pipe(z.array(httpUrl.transform((url) => new URL(url).origin))),
  RATE_LIMIT_REQUESTS: positiveInteger(600),
  RATE_LIMIT_WINDOW_SECONDS: positiveInteger(60),
  ANON_RATE_LIMITER: z.custom<RateLimiterBinding>((value) => typeof (value as RateLimiterBinding)?.limit === 'function', 'must be a rate limiting binding').optional(),
});

export interface DatabaseConfig {
  primaryUrl: string;
  /** Read replicas' connection strings; empty: every read goes to the primary. */
  replicaUrls: string[];
  /** The SQL-over-HTTP endpoint of a local stand-in; unset in production. */
  fetchEndpoint: string | undefined;
  /** Milliseconds before a round trip to the primary is abandoned. */
  timeoutMs: number;
  /** Milliseconds before a read on a replica is abandoned (and sent to the primary). */
  replicaTimeoutMs: number;
}

export interface AuthConfig {
  /** The bootstrap admin key (no database row), or undefined. */
  adminKey: string | undefined;
  /** Reads need no key (else a `read` key). */
  publicReads: boolean;
  /** Origins granted CORS, e.g. `https://app.example`. */
  corsOrigins: string[];
  /** A key's limit when it has none of its own. */
  defaultRateLimit: { requests: number; windowSeconds: number };
  /** Limits anonymous clients per IP; unset: no limit for them. */
  anonymousLimiter: RateLimiterBinding | undefined;
}

export interface Config {
  /** Seconds a cached read lives at a location; 0: no read cache. */
  readCacheTtlSeconds: number;
  database: DatabaseConfig;
  auth: AuthConfig;
  redis: { url: string; token: string; timeoutMs: number };
  uploads: {
    /** Seconds an upload stays staged (and its status readable). */
    ttlSeconds: number;
    /** Largest file, in bytes (a resumable upload's pieces together). */
    maxBytes: number;
    /** Largest request body, in bytes: a single-request upload or one piece of a resumable one. */
    maxPieceBytes: number;
    /** Most data rows in one upload. */
    maxRows: number;
    /** Staged bytes one API key may have in Redis per upload lifetime. */
    quotaBytes: number;
  };
}

/** Parses `env`; throws {@link ConfigError} naming the first binding that is wrong. */
export function parseConfig(env: Bindings): Config {
  const parsed = bindingsSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const binding = String(issue.path[0]);
    throw new ConfigError(binding, env[binding as keyof Bindings] === undefined ? 'is not set' : issue.message);
  }
  const b = parsed.data;
  return {
    readCacheTtlSeconds: b.READ_CACHE_TTL_SECONDS,
    database: {
      primaryUrl: b.DATABASE_URL,
      replicaUrls: b.DATABASE_REPLICA_URL,
      fetchEndpoint: b.NEON_FETCH_ENDPOINT,
      timeoutMs: b.DEPENDENCY_TIMEOUT_MS,
      replicaTimeoutMs: b.REPLICA_TIMEOUT_MS,
    },
    auth: {
      adminKey: b.ADMIN_API_KEY,
      publicReads: b.PUBLIC_READS,
      corsOrigins: b.CORS_ORIGINS,
      defaultRateLimit: { requests: b.RATE_LIMIT_REQUESTS, windowSeconds: b.RATE_LIMIT_WINDOW_SECONDS },
      anonymousLimiter: b.ANON_RATE_LIMITER,
    },
    redis: { url: b.UPSTASH_REDIS_REST_URL, token: b.UPSTASH_REDIS_REST_TOKEN, timeoutMs: b.DEPENDENCY_TIMEOUT_MS },
    uploads: { ttlSeconds: b.UPLOAD_TTL_SECONDS, maxBytes: b.UPLOAD_MAX_BYTES, maxPieceBytes: b.UPLOAD_MAX_PIECE_BYTES, maxRows: b.UPLOAD_MAX_ROWS, quotaBytes: b.UPLOAD_QUOTA_BYTES },
  };
}

/** Parsed configurations by bindings object: the Workers runtime hands an isolate the same `env` on every request. */
const parsedConfigs = new WeakMap<Bindings, Config | ConfigError>();

/** The configuration for `env`, parsed at its first request. */
export function configFor(env: Bindings): Config {
  let config = parsedConfigs.get(env);
  if (config === undefined) {
    try {
      config = parseConfig(env);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      config = error;
    }
    parsedConfigs.set(env, config);
  }
  if (config instanceof ConfigError) throw config;
  return config;
}
