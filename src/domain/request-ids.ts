/**
 * Ids the server makes for what a request creates (exchanges, offers): random, or — for a request
 * with an Idempotency-Key — derived from the route, the caller, the key and the body, so a retry
 * whose first attempt did commit (its answer lost to a timeout) finds what it made instead of
 * making it again.
 */
import { canonicalJson, sha256 } from '../platform/hashing.ts';

/**
 * A key's replay window: how long a finished answer is replayed, and how long a creation counts
 * as the earlier attempt of a retry (the ids below).
 */
export const IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60 * 1000;

/** The id a creation takes, and (with an Idempotency-Key) the id an earlier attempt of it may have taken. */
export interface RequestIds {
  id: string;
  /** The previous window's id: an attempt made before the window turned, possibly less than 24 h ago. */
  previous?: string;
}

/**
 * `<prefix>_` and 32 hex digits. A derived id also takes in the 24-hour window `now` falls in: the
 * same key and body a day later is a new request, with a new id. A retry can straddle a window's
 * end, so the previous window's id is returned too; the caller counts either only if it was
 * created within the last {@link IDEMPOTENCY_WINDOW_MS}.
 */
export async function requestIds(
  prefix: string,
  scope: string,
  idempotencyKey: { caller: string; key: string } | undefined,
  input: unknown,
  now = Date.now(),
): Promise<RequestIds> {
  if (idempotencyKey === undefined) return { id: `${prefix}_${crypto.randomUUID().replaceAll('-', '')}` };
  const seed = `${scope}:${idempotencyKey.caller}:${idempotencyKey.key}:${canonicalJson(input)}`;
  const derived = async (window: number) => `${prefix}_${(await sha256(`${seed}:${window}`)).slice(0, 32)}`;
  const window = Math.floor(now / IDEMPOTENCY_WINDOW_MS);
  return { id: await derived(window), previous: await derived(window - 1) };
}

/** SQL text for "created within the replay window", as an interval literal. */
export const IDEMPOTENCY_WINDOW_INTERVAL = `${IDEMPOTENCY_WINDOW_MS} milliseconds`;
