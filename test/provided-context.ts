import 'vitest';

declare module 'vitest' {
  /** What the global setup hands to the Workers pool and to tests (`inject('bindings')`). */
  export interface ProvidedContext {
    /** Worker bindings that point at the local stand-ins (see local/standins.ts). */
    bindings: {
      DATABASE_URL: string;
      /** Comma-separated read-replica connection strings; absent when the run has no replica. */
      DATABASE_REPLICA_URL?: string;
      NEON_FETCH_ENDPOINT: string;
      UPSTASH_REDIS_REST_URL: string;
      UPSTASH_REDIS_REST_TOKEN: string;
      /** This run's bootstrap admin API key. */
      ADMIN_API_KEY: string;
    };
    /** The engines behind the stand-ins, e.g. `postgres + redis`. */
    engines: string;
    /** A TCP server that accepts connections and never answers: a hung dependency. */
    blackHoleUrl: string;
    /**
     * A `NEON_FETCH_ENDPOINT` in front of the run's Neon stand-in that answers for a replica
     * `postgresql://…@<answer>.broken-replica.test/…` as a broken one would (`not-json`,
     * `not-json-error`, `no-results`, `data-exception`, `syntax-error`, `replay-conflict`, `schema-lag`), and passes every other request on.
     */
    brokenReplicaEndpoint: string;
    /** How long the replica lags behind the primary (its WAL apply delay), ms; 0 without a lagging replica. */
    replicaDelayMs: number;
    /** Only with TEST_REPLICA_CLUSTER=1: a loopback server where `POST /replica/stop` kills the replica. */
    controlUrl?: string;
    /**
     * Only on a real PostgreSQL (TEST_DATABASE_URL): the control server of the fault suite's own
     * stand-in process (`POST /standins/{freeze,thaw,kill,start,bindings}`, see test/global-setup.ts).
     */
    faultControlUrl?: string;
    /** Stand-ins started with `delayMs` (NEON_HTTP_DELAY_MS / UPSTASH_DELAY_MS): Neon's serves no database. */
    delayedStandins: { delayMs: number; neonUrl: string; upstashUrl: string };
    /** A private Upstash stand-in (in-memory engine) of its own that `POST stopUrl` kills, for a test of Redis dying. */
    privateRedis: { url: string; token: string; stopUrl: string };
    /** `TEST_SEED` from the environment (vitest.config.ts): the seed randomized tests replay; unset for a random one. */
    testSeed?: string;
  }
}
