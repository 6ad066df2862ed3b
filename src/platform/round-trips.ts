/** The outbound dependencies whose round trips a request counts. */
export type Dependency = 'db' | 'cache';

interface Tally {
  count: number;
  ms: number;
}

/**
 * Counts and times one request's round trips to each dependency, and reports them as a
 * `Server-Timing` header: `db;count=1;dur=3.2, cache;count=0;dur=0, total;dur=5.1`.
 * The counts are part of the API's contract: tests and benchmarks read them.
 */
export class RoundTrips {
  readonly #started = performance.now();
  readonly #tallies: Record<Dependency, Tally> = { db: { count: 0, ms: 0 }, cache: { count: 0, ms: 0 } };

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
    const parts = (Object.entries(this.#tallies) as [Dependency, Tally][]).map(
      ([name, { count, ms }]) => `${name};count=${count};dur=${ms.toFixed(1)}`,
    );
    parts.push(`total;dur=${(performance.now() - this.#started).toFixed(1)}`);
    return parts.join(', ');
  }
}
