/**
 * `Idempotency-Key` for unsafe routes: the first request with a key runs; a retry with the
 * same key and body gets the first answer back without running again. State lives in Redis
 * under `idem:<caller>:<scope>:<key>` — one caller's keys never meet another's — and each step is
 * one Redis round trip.
 */
import type { Context } from 'hono';
import { IDEMPOTENCY_WINDOW_MS } from '../domain/request-ids.ts';
import type { AppEnv } from '../env.ts';
import { canonicalJson, sha256 } from '../platform/hashing.ts';
import { Problem, problemResponse } from '../platform/problem.ts';
import { noteError } from '../platform/request-log.ts';
import { problemFor } from './errors.ts';

/**
 * How long a request that has not finished holds its key, in dependency timeouts
 * (`DEPENDENCY_TIMEOUT_MS`, 5 s by default: a minute). Far beyond any request (it makes a few
 * round trips, each bounded by that timeout), yet a Worker that died mid-request frees the key
 * soon instead of blocking retries for a day — and so does a claim that reached Redis only after
 * the request had given up on it (a frozen or partitioned Redis runs it late), so the retry that
 * follows the 503 is blocked (409) for no longer than this.
 */
const IN_FLIGHT_TIMEOUTS = 12;

/** Only these headers of the first answer are replayed; request ids and timings are per request. */
const REPLAYED_HEADERS = ['Content-Type', 'Location'];

type Entry =
  | { state: 'in-flight'; bodyHash: string }
  | { state: 'done'; bodyHash: string; status: number; headers: Record<string, string>; body: string };

export interface IdempotencyOptions {
  /** Keeps routes' keys apart, e.g. `exchanges`. */
  scope: string;
  /** The `Idempotency-Key` header; without one the request just runs. */
  key: string | undefined;
  /** The validated request; a retry must send the same. */
  request: unknown;
}

/** The Redis key holding a caller's state for one Idempotency-Key on one route. */
export function idempotencySlot(caller: string, scope: string, key: string): string {
  return `idem:${caller}:${scope}:${key}`;
}

/** The answer to a retry whose key is already taken. */
function replay(entry: Entry, bodyHash: string): Response {
  if (entry.bodyHash !== bodyHash) {
    throw new Problem('validation-failed', 'This Idempotency-Key was already used with a different body; use a new key for a new request.', {
      errors: [{ parameter: 'Idempotency-Key', detail: 'Idempotency-Key was already used with a different body.' }],
    });
  }
  if (entry.state === 'in-flight') {
    throw new Problem('conflict', 'A request with this Idempotency-Key is still being processed; retry shortly.', {}, { 'Retry-After': '1' });
  }
  return new Response(entry.body, { status: entry.status, headers: { ...entry.headers, 'Idempotent-Replayed': 'true' } });
}

/** Who sent an Idempotency-Key, and the key: what server-made ids of the request derive from. */
export interface CallerKey {
  caller: string;
  key: string;
}

/**
 * Runs `run` at most once per key, handing it the caller's key (if any). The key is claimed and any earlier state read in one
 * `SET … NX GET`; the answer (success or a 4xx problem) is stored for
 * {@link IDEMPOTENCY_WINDOW_MS}. On a 5xx or an unexpected error the key is released so
 * the client can retry.
 */
export async function idempotent<R extends Response>(
  c: Context<AppEnv>,
  options: IdempotencyOptions,
  run: (callerKey: CallerKey | undefined) => Promise<R>,
): Promise<R> {
  if (options.key === undefined) return run(undefined);
  const callerKey = { caller: c.var.principal?.id ?? 'anonymous', key: options.key };
  const slot = idempotencySlot(callerKey.caller, options.scope, callerKey.key);
  const bodyHash = await sha256(canonicalJson(options.request));
  const inFlight: Entry = { state: 'in-flight', bodyHash };
  const inFlightSeconds = Math.ceil((IN_FLIGHT_TIMEOUTS * c.var.services.config.redis.timeoutMs) / 1000);
  const previous = await c.var.services.redis.set<Entry>(slot, inFlight, { nx: true, get: true, ex: inFlightSeconds });
  // Typed as what `run` answers: a replay is that first answer, and a problem is one of its statuses.
  if (previous !== null && previous !== 'OK') return replay(previous, bodyHash) as R;

  let response: R;
  try {
    response = await run(callerKey);
  } catch (error) {
    const problem = problemFor(error, c.get('requestId'));
    if (problem.status >= 500) {
      // Best effort: if Redis is down too, the short in-flight TTL frees the key.
      await c.var.services.redis.del(slot).catch(() => undefined);
      throw error;
    }
    response = problemResponse(c, problem) as R;
  }
  const headers: Record<string, string> = {};
  for (const name of REPLAYED_HEADERS) {
    const value = response.headers.get(name);
    if (value !== null) headers[name] = value;
  }
  const done: Entry = { state: 'done', bodyHash, status: response.status, headers, body: await response.clone().text() };
  // The work is done and answered either way; a failed write only means a retry would run again.
  await c.var.services.redis.set(slot, done, { px: IDEMPOTENCY_WINDOW_MS }).catch((error: unknown) => {
    noteError(c, 'storing the idempotent answer', error);
  });
  return response;
}
