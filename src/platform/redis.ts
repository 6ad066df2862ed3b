import { Redis as UpstashRedis } from '@upstash/redis/cloudflare';
import type { Config } from './config.ts';
import { DependencyUnavailableError } from './dependency-error.ts';
import type { RoundTrips } from './round-trips.ts';

/** Redis's own error replies: the command was wrong (a bug), Redis itself answered fine. */
const COMMAND_ERROR = /^(ERR|WRONGTYPE|NOSCRIPT|EXECABORT|NOPROTO)\b/;

/**
 * Upstash Redis whose every HTTP round trip is counted and timed into the request's
 * {@link RoundTrips}, and whose transport failures become {@link DependencyUnavailableError}.
 * Auto-pipelining is off so batching is explicit (`pipeline()` / `multi()`) and round trips
 * are predictable.
 */
class MeasuredRedis extends UpstashRedis {
  constructor({ url, token, timeoutMs }: Config['redis'], roundTrips: RoundTrips) {
    super({
      url,
      token,
      enableAutoPipelining: false,
      enableTelemetry: false,
      // A function, so each round trip gets a fresh timeout and an abort throws (a plain
      // signal makes the client report a successful "Aborted" result instead).
      signal: () => AbortSignal.timeout(timeoutMs),
      // Fail fast: a retried write could apply twice, and the caller answers 503 anyway.
      retry: false,
    });
    const inner = this.client;
    const request = <TResult>(req: Parameters<typeof inner.request>[0]) =>
      roundTrips.measure('redis', () =>
        inner.request<TResult>(req).catch((error: unknown) => {
          if (error instanceof Error && COMMAND_ERROR.test(error.message)) throw error;
          throw new DependencyUnavailableError('redis', error);
        }),
      );
    this.client = Object.assign(Object.create(inner) as typeof inner, { request });
  }
}

/** Creates the request's Redis client (staging, idempotency). */
export function createRedis(config: Config['redis'], roundTrips: RoundTrips): Redis {
  return new MeasuredRedis(config, roundTrips);
}

export type Redis = UpstashRedis;
