/**
 * Starts both local stand-ins — Neon's SQL over HTTP and Upstash's REST API — on the real
 * servers when given their URLs, else on the embedded engines (PGlite, in-memory Redis).
 * Returns the Worker bindings that point at them: only env vars differ from production.
 */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { connectPostgres, openPglite, startNeonHttp, type SqlEngine } from './neon-http/index.ts';
import { connectRedis, createMemoryEngine, startUpstashRest, type RedisEngine } from './upstash-rest/index.ts';

export interface StandinOptions {
  /** A real PostgreSQL (`postgres://…`); omit for PGlite. */
  postgresUrl?: string | undefined;
  /** PGlite's data folder; omit for a throwaway in-memory database. */
  pgliteDir?: string | undefined;
  /** A real Redis (`redis://…`); omit for the in-memory engine. */
  redisUrl?: string | undefined;
  neonPort?: number;
  upstashPort?: number;
}

/** The Worker bindings that reach the stand-ins. */
export interface StandinBindings {
  DATABASE_URL: string;
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
 * DATABASE_URL / REDIS_URL pick the real servers, PGLITE_DIR, NEON_HTTP_PORT and UPSTASH_PORT
 * override `defaults`.
 */
export function standinOptionsFromEnv(defaults: { pgliteDir?: string; neonPort: number; upstashPort: number }): StandinOptions {
  const env = process.env;
  return {
    postgresUrl: env.DATABASE_URL,
    redisUrl: env.REDIS_URL,
    pgliteDir: env.PGLITE_DIR ?? defaults.pgliteDir,
    neonPort: Number(env.NEON_HTTP_PORT ?? defaults.neonPort),
    upstashPort: Number(env.UPSTASH_PORT ?? defaults.upstashPort),
  };
}

/** Starts both stand-ins; `close()` stops the servers and the engines behind them. */
export async function startStandins(options: StandinOptions = {}): Promise<Standins> {
  const sqlEngine: SqlEngine = options.postgresUrl
    ? connectPostgres(options.postgresUrl)
    : await openPglite(options.pgliteDir);
  const redisEngine: RedisEngine = options.redisUrl ? await connectRedis(options.redisUrl) : createMemoryEngine();
  const token = randomBytes(16).toString('hex');
  const neon = await startNeonHttp({ engine: sqlEngine, port: options.neonPort });
  const upstash = await startUpstashRest({ engine: redisEngine, token, port: options.upstashPort });
  return {
    bindings: {
      // The stand-in serves one database whatever this names; it only has to be a valid Neon URL.
      DATABASE_URL: 'postgresql://local:local@localhost/pokemon',
      NEON_FETCH_ENDPOINT: `${neon.url}/sql`,
      UPSTASH_REDIS_REST_URL: upstash.url,
      UPSTASH_REDIS_REST_TOKEN: token,
    },
    engines: `${sqlEngine.kind} + ${options.redisUrl ? 'redis' : 'memory'}`,
    async close() {
      await Promise.all([neon.close(), upstash.close()]);
      await Promise.all([sqlEngine.close(), redisEngine.close()]);
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
