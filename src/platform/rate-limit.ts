/**
 * Per-key rate limits, counted in Redis so every Workers location shares one count: a sliding
 * window (the current window's count plus the previous one's, weighted by how much of it still
 * overlaps), in ONE round trip — a MULTI of INCR, PEXPIRE and GET.
 *
 * Why not @upstash/ratelimit: its algorithms run as Lua scripts (EVALSHA, with an extra round trip
 * to load a script an instance has not seen), so the local in-memory Redis would need a Lua VM;
 * the same sliding window fits in three plain commands, which every engine here and Upstash run
 * as they are. The cost: a request over the limit still increments the count (as Upstash's
 * fixed window does), so a client that keeps hammering stays limited until it slows down.
 *
 * Headers follow draft-ietf-httpapi-ratelimit-headers-10: `RateLimit-Policy: "key";q=600;w=60`
 * and `RateLimit: "key";r=12;t=31`.
 */
import type { Redis } from './redis.ts';

/** A limit: at most `requests` per `windowSeconds`. */
export interface RateLimit {
  requests: number;
  windowSeconds: number;
}

export interface RateLimitVerdict {
  allowed: boolean;
  /** Response headers describing the limit and what is left of it. */
  headers: Record<string, string>;
}

const POLICY = 'key';

/** Counts one request of `subject` against `limit`. */
export async function consume(redis: Redis, subject: string, limit: RateLimit, now = Date.now()): Promise<RateLimitVerdict> {
  const windowMs = limit.windowSeconds * 1000;
  const window = Math.floor(now / windowMs);
  const current = `ratelimit:${subject}:${window}`;
  const [count, , previous] = await redis
    .multi()
    .incr(current)
    .pexpire(current, 2 * windowMs)
    .get<number>(`ratelimit:${subject}:${window - 1}`)
    .exec<[number, number, number | null]>();
  const elapsed = (now % windowMs) / windowMs;
  const used = count + (previous ?? 0) * (1 - elapsed);
  const resetSeconds = Math.max(1, Math.ceil((windowMs - (now % windowMs)) / 1000));
  const allowed = used <= limit.requests;
  const headers: Record<string, string> = {
    'RateLimit-Policy': `"${POLICY}";q=${limit.requests};w=${limit.windowSeconds}`,
    RateLimit: `"${POLICY}";r=${Math.max(0, Math.floor(limit.requests - used))};t=${resetSeconds}`,
  };
  if (!allowed) headers['Retry-After'] = String(resetSeconds);
  return { allowed, headers };
}
