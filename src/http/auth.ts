/**
 * The trust boundary: who is calling (an API key from `Authorization: Bearer …`, RFC 6750),
 * whether that caller may make this request (scopes), and whether it is within its rate limit.
 *
 * Verified keys are remembered per isolate for {@link KEY_CACHE_TTL_MS}, so a warm key costs no
 * database round trip; a revoked key is refused by every isolate within that time, and at once
 * by the isolate that revoked it ({@link forgetKey}).
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
const verifiedKeys = new Map<string, { key: ApiKey | undefined; until: number }>();

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
  if (method === 'OPTIONS') return undefined;
  return 'write';
}

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
      let entry = verifiedKeys.get(hash);
      if (entry === undefined || entry.until < Date.now()) {
        const key = await verifyKey(services.db.bookkeeping, hash);
        entry = { key, until: Date.now() + KEY_CACHE_TTL_MS };
        if (verifiedKeys.size >= KEY_CACHE_MAX_ENTRIES) verifiedKeys.delete(verifiedKeys.keys().next().value!);
        verifiedKeys.set(hash, entry);
      }
      const { key } = entry;
      if (!key) throw unauthorized('The API key is unknown.', 'invalid_token');
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
    const address = c.req.header('CF-Connecting-IP') ?? 'unknown';
    if (!(await config.auth.anonymousLimiter.limit({ key: address })).success) {
      throw new Problem('rate-limited', 'Too many requests without an API key from this address; slow down or use a key.', {}, { 'Retry-After': '10' });
    }
  }

  c.set('principal', principal);
  await next();
  for (const [name, value] of Object.entries(limitHeaders)) c.header(name, value);
});
