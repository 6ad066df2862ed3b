/** The outbound dependencies whose round trips a request counts: the primary database, its read replicas, Redis. */
export type Dependency = 'db' | 'replica' | 'redis';

export const DEPENDENCIES: readonly Dependency[] = ['db', 'replica', 'redis'];

interface Tally {
  count: number;
  ms: number;
}

/**
 * Counts and times one request's round trips to each dependency, and reports them as a
 * `Server-Timing` header: `db;count=1;dur=3.2, replica;count=0;dur=0, redis;count=0;dur=0, total;dur=5.1`.
 * The counts are part of the API's contract: tests and benchmarks read them.
 */
export class RoundTrips {
  readonly #started = performance.now();
  readonly #tallies = Object.fromEntries(DEPENDENCIES.map((name) => [name, { count: 0, ms: 0 }])) as Record<Dependency, Tally>;
  /** How the read cache treated the request (`hit-edge`, `miss`, `bypass`), when it was consulted. */
  cacheOutcome: string | undefined;

  /** Runs one round trip to `dependency`, counting it and adding its duration. */
  async measure<T>(dependency: Dependency, roundTrip: () => Promise<T>): Promise<T> {
    const tally = this.#tallies[dependency];
    tally.count += 1;
    const start = performance.now();
    try {
      return await roundTrip();
    } finally {
      tally.ms += performance.now() - start;
    }
  }

  /** How many round trips `dependency` has taken so far. */
  count(dependency: Dependency): number {
    return this.#tallies[dependency].count;
  }

  /** The `Server-Timing` header value. */
  toServerTiming(): string {
    const parts = DEPENDENCIES.map((name) => `${name};count=${this.#tallies[name].count};dur=${this.#tallies[name].ms.toFixed(1)}`);
    if (this.cacheOutcome !== undefined) parts.push(`cache;desc="${this.cacheOutcome}"`);
    parts.push(`total;dur=${(performance.now() - this.#started).toFixed(1)}`);
    return parts.join(', ');
  }
}
