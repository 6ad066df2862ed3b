/**
 * The trust boundary, for every route at once: the cases are generated from the app's own route
 * table, so a new write route cannot forget them.
 */
import { describe, expect, it, vi } from 'vitest';
import app from '../src/index.ts';
import { call, callWithBindings, expectProblem, roundTrips } from './support/api.ts';
import { createKey, revokeKey } from './support/keys.ts';

/** Every registered write route, with its path parameters filled in. */
const WRITES = app.routes
  .filter((route) => ['POST', 'PATCH', 'DELETE', 'PUT'].includes(route.method))
  .map((route) => ({ method: route.method, path: route.path.replace(/:[^/]+/g, 'x-1'), admin: route.path.startsWith('/keys') }));

const challenge = (response: Response) => response.headers.get('WWW-Authenticate') ?? '';

describe('every write route', () => {
  it('is in the list the cases are generated from', () => {
    expect(WRITES.map(({ method, path }) => `${method} ${path}`)).toEqual(
      expect.arrayContaining(['POST /trainers', 'DELETE /trainers/x-1', 'POST /exchanges', 'POST /uploads/x-1/commit', 'POST /keys', 'DELETE /keys/x-1']),
    );
  });

  it('refuses a request without a key: 401 with a Bearer challenge', async () => {
    for (const { method, path } of WRITES) {
      const response = await call(path, { method, key: null, json: {} });
      const problem = await expectProblem(response, 401);
      expect(problem.type, `${method} ${path}`).toBe('/problems/unauthorized');
      expect(challenge(response), `${method} ${path}`).toBe('Bearer realm="pokemon-trainers-api"');
    }
  });

  it('refuses a key without the scope: 403 naming it', async () => {
    const reader = await createKey({ scopes: ['read'] });
    const writer = await createKey({ scopes: ['write'] });
    for (const { method, path, admin } of WRITES) {
      for (const key of admin ? [reader, writer] : [reader]) {
        const response = await call(path, { method, key: key.key, json: {} });
        const problem = await expectProblem(response, 403);
        expect(problem.requiredScope, `${method} ${path}`).toBe(admin ? 'admin' : 'write');
        expect(challenge(response)).toContain('error="insufficient_scope"');
      }
    }
  });

  it('refuses a revoked key: 401 invalid_token', async () => {
    const revoked = await createKey({ scopes: ['admin'] });
    await revokeKey(revoked.id);
    for (const { method, path } of WRITES) {
      const response = await call(path, { method, key: revoked.key, json: {} });
      expect((await expectProblem(response, 401)).detail, `${method} ${path}`).toMatch(/revoked/);
      expect(challenge(response)).toContain('error="invalid_token"');
    }
  });
});

describe('Authorization headers', () => {
  it('answers 401, never a 500, for every malformed header', async () => {
    const malformed = ['Basic dXNlcjpwYXNz', 'Bearer', 'Bearer ', 'Bearer a b', 'Bearer a, Bearer b', `Bearer ${'x'.repeat(8_000)}`, 'Bearer pta_é', 'bearer\tpta_x'];
    for (const header of malformed) {
      const response = await call('/trainers', { method: 'POST', key: null, headers: { Authorization: header }, json: {} });
      const problem = await expectProblem(response, 401);
      expect(problem.detail.length, header.slice(0, 20)).toBeLessThan(200);
      expect(challenge(response)).toMatch(/^Bearer realm="pokemon-trainers-api", error="invalid_(request|token)"/);
    }
    // An empty header is no credentials at all.
    await expectProblem(await call('/trainers', { method: 'POST', key: null, headers: { Authorization: '' }, json: {} }), 401);
  });

  it('refuses a key with a wrong checksum without a database round trip', async () => {
    const { key } = await createKey({ scopes: ['write'] });
    const typo = `${key.slice(0, 10)}${key[10] === 'A' ? 'B' : 'A'}${key.slice(11)}`;
    const response = await call('/trainers', { method: 'POST', key: typo, json: {} });
    expect((await expectProblem(response, 401)).detail).toMatch(/checksum/);
    expect(response.headers.get('Server-Timing')).toMatch(/^db;count=0;.*replica;count=0;.*redis;count=0/);
  });

  it('refuses an unknown key that has the right shape', async () => {
    // A well-formed key of this service that was never issued (its checksum is right).
    const { key } = await createKey({ scopes: ['write'] });
    const { generateKey } = await import('../src/domain/keys.ts');
    const unknown = generateKey();
    expect(unknown).not.toBe(key);
    expect((await expectProblem(await call('/trainers', { method: 'POST', key: unknown, json: {} }), 401)).detail).toMatch(/unknown/);
  });

  it('holds back a flood of fabricated keys from one address without a database round trip each', async () => {
    const { generateKey } = await import('../src/domain/keys.ts');
    // One client (its own address, so no other test's requests count), 25 well-formed keys no one issued.
    const headers = { 'CF-Connecting-IP': `192.0.2.${Math.floor(Math.random() * 250)}-${crypto.randomUUID()}` };
    const keys = Array.from({ length: 25 }, () => generateKey());
    const answers = [];
    for (const key of keys) answers.push(await call('/species/pikachu', { key, headers }));
    const dbTrips = answers.map((response) => roundTrips(response).db);
    expect(answers.map((response) => response.status)).toEqual([...Array(20).fill(401), ...Array(5).fill(429)]);
    expect(dbTrips).toEqual([...Array(20).fill(1), ...Array(5).fill(0)]);
    const limited = await expectProblem(answers[24]!, 429);
    expect(limited.detail).toMatch(/unknown API keys/);
    expect(Number(answers[24]!.headers.get('Retry-After'))).toBeGreaterThan(0);
    // An unknown key seen before is refused from memory, limited address or not: 401, no round trip.
    const again = await call('/species/pikachu', { key: keys[0]!, headers });
    await expectProblem(again.clone(), 401);
    expect(roundTrips(again).db).toBe(0);
    // The bootstrap admin key is no cold lookup: the flood does not lock it out.
    expect((await call('/species/pikachu', { headers })).status).toBe(200);
  });

  it('does not hold back a real key from a flooded address when its cached entry expires', async () => {
    const { generateKey } = await import('../src/domain/keys.ts');
    const headers = { 'CF-Connecting-IP': `198.51.100.${Math.floor(Math.random() * 250)}-${crypto.randomUUID()}` };
    const { key } = await createKey({ scopes: ['read'] });
    expect((await call('/species/pikachu', { key, headers })).status).toBe(200);
    for (let i = 0; i < 21; i++) await call('/species/pikachu', { key: generateKey(), headers });
    expect((await call('/species/pikachu', { key: generateKey(), headers })).status).toBe(429);
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      // Past the key cache's 5 s, within the flood's 10 s window.
      vi.setSystemTime(Date.now() + 6_000);
      const later = await call('/species/pikachu', { key, headers });
      expect(later.status).toBe(200);
      expect(roundTrips(later).db).toBe(1);
    } finally {
      vi.useRealTimers();
    }
  });

  it('lets anonymous clients read, and checks a key sent on a read all the same', async () => {
    expect((await call('/species/pikachu', { key: null })).status).toBe(200);
    await expectProblem(await call('/species/pikachu', { key: 'pta_nope' }), 401);
  });
});

describe('CORS', () => {
  it('grants nothing to an origin that is not configured', async () => {
    const preflight = await call('/trainers', {
      method: 'OPTIONS',
      key: null,
      headers: { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization' },
    });
    expect(preflight.headers.get('Access-Control-Allow-Origin')).toBeNull();
    const simple = await call('/species/pikachu', { key: null, headers: { Origin: 'https://evil.example' } });
    expect(simple.headers.get('Access-Control-Allow-Origin')).toBeNull();
  });
});

describe('security headers', () => {
  it('are on every answer: success, problem, and the docs page with a policy of its own', async () => {
    for (const path of ['/species/pikachu', '/no-such-route', '/openapi.json']) {
      const response = await call(path);
      expect(response.headers.get('X-Content-Type-Options'), path).toBe('nosniff');
      expect(response.headers.get('Referrer-Policy'), path).toBe('no-referrer');
      expect(response.headers.get('Content-Security-Policy'), path).toBe("default-src 'none'; frame-ancestors 'none'");
      expect(response.headers.get('X-Frame-Options'), path).toBe('DENY');
      expect(response.headers.get('Strict-Transport-Security'), path).toMatch(/^max-age=\d+; includeSubDomains$/);
      expect(response.headers.get('Cross-Origin-Resource-Policy'), path).toBe('same-origin');
      // Headers for documents only, left off answers that are data.
      for (const name of ['X-XSS-Protection', 'Origin-Agent-Cluster', 'Cross-Origin-Opener-Policy', 'X-DNS-Prefetch-Control', 'X-Download-Options', 'X-Permitted-Cross-Domain-Policies']) {
        expect(response.headers.get(name), `${path} ${name}`).toBeNull();
      }
    }
    const docs = await call('/docs');
    expect(docs.headers.get('Content-Security-Policy')).toContain('script-src');
    expect(docs.headers.get('X-Content-Type-Options')).toBe('nosniff');
  });
});

describe('CORS for a configured origin', () => {
  const ORIGIN = 'https://app.example';
  it('answers the preflight with 204 and the headers a browser client needs', async () => {
    const preflight = await callWithBindings({ CORS_ORIGINS: `${ORIGIN}, https://other.example` }, '/trainers', {
      method: 'OPTIONS',
      key: null,
      headers: { Origin: ORIGIN, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization, content-type' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('Access-Control-Allow-Origin')).toBe(ORIGIN);
    const allowed = (preflight.headers.get('Access-Control-Allow-Headers') ?? '').toLowerCase();
    for (const name of ['authorization', 'content-type', 'idempotency-key', 'x-bookmark']) expect(allowed).toContain(name);
  });

  it('exposes the API’s own headers to the page', async () => {
    const response = await callWithBindings({ CORS_ORIGINS: ORIGIN }, '/species/pikachu', { headers: { Origin: ORIGIN } });
    expect(response.headers.get('Access-Control-Allow-Origin')).toBe(ORIGIN);
    const exposed = response.headers.get('Access-Control-Expose-Headers') ?? '';
    for (const name of ['X-Request-Id', 'Server-Timing', 'Location', 'ETag', 'Retry-After', 'Idempotent-Replayed', 'RateLimit', 'X-Bookmark']) {
      expect(exposed).toContain(name);
    }
    expect(response.headers.get('Vary')).toContain('Origin');
  });

  it('sends no CORS headers to a request without Origin, only Vary: Origin', async () => {
    const response = await callWithBindings({ CORS_ORIGINS: ORIGIN }, '/species/pikachu');
    expect(response.status).toBe(200);
    expect([...response.headers.keys()].filter((name) => name.startsWith('access-control-'))).toEqual([]);
    expect(response.headers.get('Vary')).toContain('Origin');
  });
});

describe('anonymous clients', () => {
  it('are limited per address (100 requests per 10 seconds), with Retry-After; a key is not', async () => {
    const address = `198.51.100.${Math.floor(Math.random() * 250) + 1}`;
    const anonymous = () => call('/openapi.json', { key: null, headers: { 'CF-Connecting-IP': address } });
    // Windows are fixed (aligned to the clock): the 101st request of one window is refused, and a
    // window that ends mid-loop lets at most 100 more through before the next refusal.
    let answered = 0;
    let refused = await anonymous();
    while (refused.status === 200 && answered < 201) (answered += 1), (refused = await anonymous());
    expect(answered).toBeGreaterThanOrEqual(100);
    expect(answered).toBeLessThanOrEqual(200);
    const problem = await expectProblem(refused, 429);
    expect(problem.detail).toBe('Too many requests without an API key from this address; slow down or use a key.');
    expect(refused.headers.get('Retry-After')).toBe('10');
    expect((await call('/openapi.json', { headers: { 'CF-Connecting-IP': address } })).status).toBe(200);
  });
});
