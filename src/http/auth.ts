/**
 * The trust boundary: who is calling (an API key from `Authorization: Bearer …`, RFC 6750),
 * whether that caller may make this request (scopes), and whether it is within its rate limit.
 *
 * Verified keys are remembered per isolate for {@link KEY_CACHE_TTL_MS}, so a warm key costs no
 * database round trip; a revoked key is refused by every isolate within that time, and at once
 * by the isolate that revoked it ({@link forgetKey}).
 *
 * Well-formed keys that no one issued (anyone can make one: the checksum is public) cost a
 * database round trip each, so they are held back without one: an unknown key is remembered
 * apart from the verified ones ({@link UNKNOWN_KEY_TTL_MS}; a flood of them cannot evict real
 * keys), and an address whose keys were unknown {@link UNKNOWN_KEY_LIMIT} times in a window is
 * refused (429) before any further cold lookup, per isolate.
 */
import { createMiddleware } from 'hono/factory';
import { grants, hashKey, isWellFormedKey, verifyKey, type ApiKey, type RateLimit, type Scope } from '../domain/keys.ts';
import type { AppEnv } from '../env.ts';
import { Problem } from '../platform/problem.ts';
import { consume } from '../platform/rate-limit.ts';
import { trainerRefusal } from './trainer-access.ts';

/** Who made a request. */
export interface Principal {
  /** The key's id; `admin` for the bootstrap key. */
  id: string;
  scopes: Scope[];
  /** Its rate limit; `undefined` for the bootstrap key, which has none. */
  rateLimit: RateLimit | undefined;
  /** For a `trainer` key: the trainer it acts as. */
  trainer?: string;
}

/** Well under the 10 s within which a revoked key must be refused everywhere. */
const KEY_CACHE_TTL_MS = 5_000;
const KEY_CACHE_MAX_ENTRIES = 10_000;
const verifiedKeys = new Map<string, { key: ApiKey; until: number }>();

/** A key hash no one issued stays unknown (keys are 256 random bits): remembered longer, in its own bounded map. */
const UNKNOWN_KEY_TTL_MS = 60_000;
const unknownKeys = new Map<string, number>();
/** Cold lookups that found no key, per client address and window, before that address gets 429. */
const UNKNOWN_KEY_LIMIT = 20;
const UNKNOWN_KEY_WINDOW_MS = 10_000;
const unknownKeyLookups = new Map<string, { count: number; windowEnds: number }>();

/** Adds to a bounded per-isolate map, dropping the oldest entry when full. */
function remember<V>(map: Map<string, V>, key: string, value: V): void {
  map.delete(key);
  if (map.size >= KEY_CACHE_MAX_ENTRIES) map.delete(map.keys().next().value!);
  map.set(key, value);
}

/** Seconds until `address` may look up unknown keys again; 0 when it may now. */
function unknownKeyBackoff(address: string, now: number): number {
  const window = unknownKeyLookups.get(address);
  if (window === undefined || window.windowEnds <= now || window.count < UNKNOWN_KEY_LIMIT) return 0;
  return Math.ceil((window.windowEnds - now) / 1000);
}

function countUnknownKey(address: string, now: number): void {
  const window = unknownKeyLookups.get(address);
  if (window === undefined || window.windowEnds <= now) remember(unknownKeyLookups, address, { count: 1, windowEnds: now + UNKNOWN_KEY_WINDOW_MS });
  else window.count += 1;
}

/** Makes this isolate forget a key (after revoking it). */
export function forgetKey(hash: string): void {
  verifiedKeys.delete(hash);
}

const REALM = 'Bearer realm="pokemon-trainers-api"';
/** RFC 6750's b64token, of a sane length. */
const BEARER = /^Bearer ([A-Za-z0-9\-._~+/]{1,512}=*)$/;

function unauthorized(detail: string, error?: 'invalid_request' | 'invalid_token'): Problem {
  const challenge = error === undefined ? REALM : `${REALM}, error="${error}", error_description="${detail.replaceAll('"', "'")}"`;
  return new Problem('unauthorized', detail, {}, { 'WWW-Authenticate': challenge });
}

/** The scope a request needs, or `undefined` for one anybody may make. */
export function requiredScope(method: string, path: string, publicReads: boolean): Scope | undefined {
  if (path === '/' || path === '/health' || path === '/openapi.json' || path === '/docs' || path.startsWith('/problems/')) return undefined;
  if (path === '/keys' || path.startsWith('/keys/')) return 'admin';
  // Offers are private to their two trainers: even reading them needs a key (a trainer key passes by trainer-access.ts).
  if (path === '/offers' || path.startsWith('/offers/')) return 'write';
  if (method === 'GET' || method === 'HEAD') return publicReads ? undefined : 'read';
  return 'write';
}

/** The client's address as Cloudflare reports it (absent locally). */
const clientAddress = (header: string | undefined) => header ?? 'unknown';

/** The admin key's digest, kept by the isolate: the key is the same on every request. */
let adminDigest: { key: string; digest: ArrayBuffer } | undefined;

async function sameSecret(token: string, adminKey: string): Promise<boolean> {
  const encoder = new TextEncoder();
  if (adminDigest?.key !== adminKey) adminDigest = { key: adminKey, digest: await crypto.subtle.digest('SHA-256', encoder.encode(adminKey)) };
  const x = await crypto.subtle.digest('SHA-256', encoder.encode(token));
  const y = adminDigest.digest;
  // A Workers extension of Web Crypto (typed here so that Node-typed builds of this file compile too).
  return (crypto.subtle as typeof crypto.subtle & { timingSafeEqual(a: ArrayBuffer, b: ArrayBuffer): boolean }).timingSafeEqual(x, y);
}

export const authenticate = createMiddleware<AppEnv>(async (c, next) => {
  // Not destructured: the database and Redis handles are built only if this request uses them.
  const services = c.var.services;
  const { config } = services;
  const needed = requiredScope(c.req.method, c.req.path, config.auth.publicReads);
  const header = c.req.header('Authorization');
  let principal: Principal | undefined;

  if (header !== undefined) {
    const token = BEARER.exec(header)?.[1];
    if (token === undefined) throw unauthorized('The Authorization header must be "Bearer <api key>", with one key and nothing else.', 'invalid_request');
    if (config.auth.adminKey !== undefined && (await sameSecret(token, config.auth.adminKey))) {
      principal = { id: 'admin', scopes: ['admin'], rateLimit: undefined };
    } else {
      if (!isWellFormedKey(token)) throw unauthorized('The bearer token is not an API key of this service (its format or checksum is wrong).', 'invalid_token');
      const hash = await hashKey(token);
      const now = Date.now();
      let entry = verifiedKeys.get(hash);
      if ((entry === undefined || entry.until < now) && (unknownKeys.get(hash) ?? 0) < now) {
        const address = clientAddress(c.req.header('CF-Connecting-IP'));
        const backoff = unknownKeyBackoff(address, now);
        if (backoff > 0) {
          throw new Problem('rate-limited', 'Too many unknown API keys from this address; slow down.', {}, { 'Retry-After': String(backoff) });
        }
        const key = await verifyKey(services.db.bookkeeping, hash);
        if (key === undefined) {
          countUnknownKey(address, now);
          remember(unknownKeys, hash, now + UNKNOWN_KEY_TTL_MS);
        } else {
          entry = { key, until: now + KEY_CACHE_TTL_MS };
          remember(verifiedKeys, hash, entry);
        }
      }
      if (entry === undefined || entry.until < now) throw unauthorized('The API key is unknown.', 'invalid_token');
      const { key } = entry;
      if (key.revokedAt !== null) throw unauthorized('The API key was revoked.', 'invalid_token');
      if (key.expiresAt !== null && Date.parse(key.expiresAt) <= Date.now()) throw unauthorized('The API key has expired.', 'invalid_token');
      if (key.scopes.includes('trainer') && key.trainer === null) throw unauthorized('The API key was revoked: its trainer was deleted.', 'invalid_token');
      principal = { id: key.id, scopes: key.scopes, rateLimit: key.rateLimit ?? config.auth.defaultRateLimit, ...(key.trainer !== null && { trainer: key.trainer }) };
    }
  }

  if (needed !== undefined) {
    if (principal === undefined) throw unauthorized(`This request needs an API key with the "${needed}" scope: send Authorization: Bearer <key>.`);
    const refusal = grants(principal.scopes, needed)
      ? undefined
      : principal.trainer === undefined
        ? `This API key lacks the "${needed}" scope that this request needs.`
        : trainerRefusal(c.req.method, c.req.path, principal.trainer);
    if (refusal !== undefined) {
      throw new Problem('forbidden', refusal, { requiredScope: needed, ...(principal.trainer !== undefined && { trainer: principal.trainer }) }, {
        'WWW-Authenticate': `${REALM}, error="insufficient_scope", scope="${needed}"`,
      });
    }
  }

  let limitHeaders: Record<string, string> = {};
  if (principal?.rateLimit !== undefined) {
    const verdict = await consume(services.redis, principal.id, principal.rateLimit);
    if (!verdict.allowed) throw new Problem('rate-limited', 'This API key is over its rate limit; slow down.', {}, verdict.headers);
    limitHeaders = verdict.headers;
  } else if (principal === undefined && config.auth.anonymousLimiter !== undefined) {
    const address = clientAddress(c.req.header('CF-Connecting-IP'));
    if (!(await config.auth.anonymousLimiter.limit({ key: address })).success) {
      throw new Problem('rate-limited', 'Too many requests without an API key from this address; slow down or use a key.', {}, { 'Retry-After': '10' });
    }
  }

  c.set('principal', principal);
  await next();
  for (const [name, value] of Object.entries(limitHeaders)) c.header(name, value);
});
