/**
 * Starts both local stand-ins — Neon's SQL over HTTP and Upstash's REST API — on the real
 * servers when given their URLs, else on the embedded engines (PGlite, in-memory Redis).
 * Returns the Worker bindings that point at them: only env vars differ from production.
 */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { connectPostgres, openPglite, readOnly, startNeonHttp, type SqlEngine } from './neon-http/index.ts';
import { connectRedis, createMemoryEngine, startUpstashRest, type RedisEngine } from './upstash-rest/index.ts';

export interface StandinOptions {
  /** A real PostgreSQL (`postgres://…`); omit for PGlite. */
  postgresUrl?: string | undefined;
  /** PGlite's data folder; omit for a throwaway in-memory database. */
  pgliteDir?: string | undefined;
  /**
   * Real read replicas (`postgres://…` of streaming standbys of `postgresUrl`'s server), each
   * served as its own database; the Worker gets them in `DATABASE_REPLICA_URL`.
   */
  replicaUrls?: string[] | undefined;
  /**
   * Without `replicaUrls`: this many "replicas" that are the primary database itself (PGlite or
   * the real server), every request made read-only (writes fail with 25006 as on a standby; no lag).
   */
  readOnlyReplicas?: number | undefined;
  /** A real Redis (`redis://…`); omit for the in-memory engine. */
  redisUrl?: string | undefined;
  neonPort?: number;
  upstashPort?: number;
  /** Simulated geography: each stand-in waits this long before answering each HTTP request (default 0). */
  neonDelayMs?: number | undefined;
  upstashDelayMs?: number | undefined;
}

/** The Worker bindings that reach the stand-ins. */
export interface StandinBindings {
  DATABASE_URL: string;
  /** Comma-separated connection strings, one per read replica; only when replicas are configured. */
  DATABASE_REPLICA_URL?: string;
  NEON_FETCH_ENDPOINT: string;
  UPSTASH_REDIS_REST_URL: string;
  UPSTASH_REDIS_REST_TOKEN: string;
}

export interface Standins {
  bindings: StandinBindings;
  /** e.g. `postgres + redis` or `pglite + memory`. */
  engines: string;
  close(): Promise<void>;
}

/**
 * Options from the environment, as `npm run dev` and `node local/standins.ts` document them:
 * DATABASE_URL / REDIS_URL pick the real servers, DATABASE_REPLICA_URL (comma-separated
 * postgres:// URLs) adds real read replicas, PGLITE_DIR, NEON_HTTP_PORT and UPSTASH_PORT
 * override `defaults`; NEON_HTTP_DELAY_MS and UPSTASH_DELAY_MS (default 0) make each stand-in
 * wait that long before answering each request, to simulate the distance to Neon and Upstash.
 */
export function standinOptionsFromEnv(defaults: { pgliteDir?: string; neonPort: number; upstashPort: number }): StandinOptions {
  const env = process.env;
  return {
    postgresUrl: env.DATABASE_URL,
    replicaUrls: splitList(env.DATABASE_REPLICA_URL),
    redisUrl: env.REDIS_URL,
    pgliteDir: env.PGLITE_DIR ?? defaults.pgliteDir,
    neonPort: Number(env.NEON_HTTP_PORT ?? defaults.neonPort),
    upstashPort: Number(env.UPSTASH_PORT ?? defaults.upstashPort),
    neonDelayMs: delayFromEnv('NEON_HTTP_DELAY_MS'),
    upstashDelayMs: delayFromEnv('UPSTASH_DELAY_MS'),
  };
}

/** A delay in ms from the environment: unset or empty is 0; anything but a non-negative number is an error. */
function delayFromEnv(name: string): number {
  const text = process.env[name]?.trim() ?? '';
  const ms = text === '' ? 0 : Number(text);
  if (!Number.isFinite(ms) || ms < 0) throw new Error(`${name} must be a non-negative number of milliseconds, not ${JSON.stringify(text)}`);
  return ms;
}

/** A comma-separated list, trimmed, empties dropped; undefined when there is nothing in it. */
export function splitList(value: string | undefined): string[] | undefined {
  const items = (value ?? '').split(',').map((item) => item.trim()).filter(Boolean);
  return items.length ? items : undefined;
}

/**
 * The connection strings the Worker uses for the stand-in's databases: Neon-shaped (one
 * host per compute, like an endpoint id), with a password made up for this run.
 */
function connectionString(host: string, password: string): string {
  return `postgresql://local:${password}@${host}/pokemon`;
}

/** Starts both stand-ins; `close()` stops the servers and the engines behind them. */
export async function startStandins(options: StandinOptions = {}): Promise<Standins> {
  if (options.replicaUrls?.length && !options.postgresUrl) throw new Error('replicaUrls needs postgresUrl: real replicas of a real primary');
  const sqlEngine: SqlEngine = options.postgresUrl
    ? connectPostgres(options.postgresUrl)
    : await openPglite(options.pgliteDir);
  const replicaEngines: SqlEngine[] = options.replicaUrls?.length
    ? options.replicaUrls.map((url) => connectPostgres(url))
    : Array.from({ length: options.readOnlyReplicas ?? 0 }, () => readOnly(sqlEngine));
  const redisEngine: RedisEngine = options.redisUrl ? await connectRedis(options.redisUrl) : createMemoryEngine();
  const token = randomBytes(16).toString('hex');
  const password = randomBytes(16).toString('hex');
  const primary = { connectionString: connectionString('localhost', password), engine: sqlEngine };
  const replicas = replicaEngines.map((engine, i) => ({ connectionString: connectionString(`replica-${i + 1}.localhost`, password), engine }));
  const neon = await startNeonHttp({ databases: [primary, ...replicas], port: options.neonPort, delayMs: options.neonDelayMs });
  const upstash = await startUpstashRest({ engine: redisEngine, token, port: options.upstashPort, delayMs: options.upstashDelayMs });
  const bindings: StandinBindings = {
    DATABASE_URL: primary.connectionString,
    NEON_FETCH_ENDPOINT: `${neon.url}/sql`,
    UPSTASH_REDIS_REST_URL: upstash.url,
    UPSTASH_REDIS_REST_TOKEN: token,
  };
  if (replicas.length) bindings.DATABASE_REPLICA_URL = replicas.map((r) => r.connectionString).join(',');
  const replicaNote = replicas.length ? ` (+${replicas.length} replica${replicas.length > 1 ? 's' : ''})` : '';
  return {
    bindings,
    engines: `${sqlEngine.kind}${replicaNote} + ${options.redisUrl ? 'redis' : 'memory'}`,
    async close() {
      await Promise.all([neon.close(), upstash.close()]);
      await Promise.all([sqlEngine.close(), ...replicaEngines.map((engine) => engine.close()), redisEngine.close()]);
    },
  };
}

/**
 * `node local/standins.ts`: runs just the stand-ins (same env vars as `npm run dev`) and
 * prints their bindings as one JSON line, for benchmarks and for pointing other tools at them.
 */
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const standins = await startStandins(standinOptionsFromEnv({ neonPort: 0, upstashPort: 0 }));
  console.log(JSON.stringify({ engines: standins.engines, ...standins.bindings }));
  const stop = () => void standins.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
