import 'vitest';

declare module 'vitest' {
  /** What the global setup hands to the Workers pool and to tests (`inject('bindings')`). */
  export interface ProvidedContext {
    /** Worker bindings that point at the local stand-ins (see local/standins.ts). */
    bindings: {
      DATABASE_URL: string;
      NEON_FETCH_ENDPOINT: string;
      UPSTASH_REDIS_REST_URL: string;
      UPSTASH_REDIS_REST_TOKEN: string;
    };
    /** The engines behind the stand-ins, e.g. `postgres + redis`. */
    engines: string;
    /** A TCP server that accepts connections and never answers: a hung dependency. */
    blackHoleUrl: string;
  }
}
