/**
 * API keys: the key routes, keys at rest, expiry and revocation, verification cost, rate limits,
 * and idempotency keys scoped per API key.
 */
import { neon, neonConfig } from '@neondatabase/serverless';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeCursor } from '../src/platform/pagination.ts';
import { inject } from 'vitest';
import { call, callWithBindings, expectedTrips, expectProblem, roundTrips } from './support/api.ts';
import { createPokemon, createTrainer, uniqueId } from './support/fixtures.ts';
import { createKey, revokeKey } from './support/keys.ts';

const bindings = inject('bindings');

beforeAll(() => {
  neonConfig.fetchEndpoint = bindings.NEON_FETCH_ENDPOINT;
});

const newTrainer = () => ({ id: uniqueId('k'), firstName: 'Key', lastName: 'Holder', dateOfBirth: '2001-01-01' });

describe('POST /keys', () => {
  it('shows the key once, in a recognisable format, and never again', async () => {
    const created = await createKey({ scopes: ['write', 'read'], rateLimit: { requests: 50, windowSeconds: 10 } });
    expect(created.key).toMatch(/^pta_[0-9A-Za-z]{49}$/);
    expect(created).toMatchObject({ id: expect.stringMatching(/^key_[0-9a-f]{24}$/), scopes: ['write', 'read'], rateLimit: { requests: 50, windowSeconds: 10 }, expiresAt: null });
    const read = (await (await call(`/keys/${created.id}`)).json()) as Record<string, unknown>;
    expect(read).not.toHaveProperty('key');
    expect(read).not.toHaveProperty('hash');
    expect(read.prefix).toBe(created.key.slice(0, 10));
    const page = (await (await call('/keys?limit=100')).json()) as { data: Record<string, unknown>[] };
    expect(JSON.stringify(page)).not.toContain(created.key);
  });

  it('refuses unknown scopes, expiry in the past and bad limits with 422', async () => {
    for (const [body, pointer] of [
      [{ name: 'x', scopes: ['superuser'] }, '/scopes/0'],
      [{ name: 'x', scopes: [] }, '/scopes'],
      [{ name: 'x', scopes: ['read'], expiresAt: '2001-01-01T00:00:00Z' }, '/expiresAt'],
      [{ name: 'x', scopes: ['read'], rateLimit: { requests: 0, windowSeconds: 10 } }, '/rateLimit/requests'],
      [{ name: 'x', scopes: ['read'], owner: 'me' }, '/owner'],
    ] as const) {
      const problem = await expectProblem(await call('/keys', { method: 'POST', json: body }), 422);
      expect(problem.errors.map((error: { pointer: string }) => error.pointer), pointer).toContain(pointer);
    }
  });

  it('is refused to a write key (admin only)', async () => {
    const writer = await createKey({ scopes: ['write'] });
    expect((await expectProblem(await call('/keys', { method: 'GET', key: writer.key }), 403)).requiredScope).toBe('admin');
  });
});

describe('GET /keys', () => {
  it('pages newest first, each page after the last key of the previous one', async () => {
    await createKey({ scopes: ['read'] });
    await createKey({ scopes: ['read'] });
    await createKey({ scopes: ['read'] });
    type Page = { data: { id: string; createdAt: string }[]; nextCursor: string | null };
    const first = (await (await call('/keys?limit=2')).json()) as Page;
    expect(first.data).toHaveLength(2);
    expect(first.nextCursor).toEqual(expect.any(String));
    const second = (await (await call(`/keys?limit=2&cursor=${first.nextCursor}`)).json()) as Page;
    expect(second.data.length).toBeGreaterThan(0);
    expect(second.data.map((key) => key.id)).not.toContain(first.data[1]!.id);
    expect(second.data.map((key) => key.id)).not.toContain(first.data[0]!.id);
    const order = [...first.data, ...second.data].map((key) => [key.createdAt, key.id].join(' '));
    expect(order).toEqual([...order].sort().reverse());
  });

  it('refuses a cursor that names no key id with 422', async () => {
    const cursor = encodeCursor('trainer-1');
    const problem = await expectProblem(await call(`/keys?cursor=${cursor}`), 422);
    expect(problem.errors).toEqual([expect.objectContaining({ parameter: 'cursor' })]);
  });
});

describe('keys at rest', () => {
  it('stores no key anywhere in the database, only its hash', async () => {
    const created = await createKey({ scopes: ['write'] });
    // Used once, so every bookkeeping column is filled in too.
    expect((await call('/trainers', { method: 'POST', key: created.key, json: newTrainer() })).status).toBe(201);
    const sql = neon(bindings.DATABASE_URL);
    const tables = (await sql`SELECT table_schema || '.' || table_name AS name FROM information_schema.tables
                             WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_type = 'BASE TABLE'`) as { name: string }[];
    expect(tables.map((t) => t.name)).toContain('public.api_keys');
    for (const { name } of tables) {
      const [row] = await sql.query(`SELECT count(*)::int AS n FROM ${name} t WHERE strpos(t::text, $1) > 0`, [created.key.slice(4)]);
      expect(row!.n, name).toBe(0);
    }
  });
});

describe('verification', () => {
  it('costs a database round trip only when a Worker first sees a key', async () => {
    const created = await createKey({ scopes: ['write'] });
    const cold = await call('/trainers', { method: 'POST', key: created.key, json: newTrainer() });
    expect(cold.status).toBe(201);
    // The key lookup, the write; Redis counts the rate limit.
    expect(roundTrips(cold)).toEqual({ db: 2, replica: 0, redis: 1 });
    const warm = await call('/trainers', { method: 'POST', key: created.key, json: newTrainer() });
    expect(roundTrips(warm)).toEqual(expectedTrips({ writes: 1, redis: 1 }));
  });

  it('refuses a revoked key at once on the Worker that revoked it', async () => {
    const created = await createKey({ scopes: ['write'] });
    expect((await call('/trainers', { method: 'POST', key: created.key, json: newTrainer() })).status).toBe(201);
    await revokeKey(created.id);
    expect((await expectProblem(await call('/trainers', { method: 'POST', key: created.key, json: newTrainer() }), 401)).detail).toMatch(/revoked/);
    expect(await (await call(`/keys/${created.id}`)).json()).toMatchObject({ revokedAt: expect.any(String), lastUsedAt: expect.any(String) });
  });

  it('refuses a key past its expiry', async () => {
    const expiresAt = new Date(Date.now() + 1_500).toISOString();
    const created = await createKey({ scopes: ['write'], expiresAt });
    expect((await call('/trainers', { method: 'POST', key: created.key, json: newTrainer() })).status).toBe(201);
    while (Date.now() <= Date.parse(expiresAt)) await new Promise((resolve) => setTimeout(resolve, 50));
    expect((await expectProblem(await call('/trainers', { method: 'POST', key: created.key, json: newTrainer() }), 401)).detail).toMatch(/expired/);
  });

  it('with PUBLIC_READS=false, reads need a key with the read scope', async () => {
    const reader = await createKey({ scopes: ['read'] });
    await expectProblem(await callWithBindings({ PUBLIC_READS: 'false' }, '/species/pikachu', { key: null }), 401);
    expect((await callWithBindings({ PUBLIC_READS: 'false' }, '/species/pikachu', { key: reader.key })).status).toBe(200);
    expect((await callWithBindings({ PUBLIC_READS: 'false' }, '/health', { key: null })).status).toBe(200);
  });
});

describe('rate limits', () => {
  it('answers 429 with Retry-After and RateLimit headers past a key’s limit; other keys go on', async () => {
    const limited = await createKey({ scopes: ['read'], rateLimit: { requests: 3, windowSeconds: 60 } });
    const other = await createKey({ scopes: ['read'], rateLimit: { requests: 3, windowSeconds: 60 } });
    for (let i = 0; i < 3; i++) {
      const response = await call('/species/pikachu', { key: limited.key });
      expect(response.status).toBe(200);
      expect(response.headers.get('RateLimit-Policy')).toBe('"key";q=3;w=60');
      expect(response.headers.get('RateLimit')).toMatch(new RegExp(`^"key";r=${2 - i};t=\\d+$`));
    }
    const refused = await call('/species/pikachu', { key: limited.key });
    const problem = await expectProblem(refused, 429);
    expect(problem.type).toBe('/problems/rate-limited');
    expect(Number(refused.headers.get('Retry-After'))).toBeGreaterThan(0);
    expect(refused.headers.get('RateLimit')).toMatch(/^"key";r=0;t=\d+$/);
    expect((await call('/species/pikachu', { key: other.key })).status).toBe(200);
  });

  it('does not limit the bootstrap admin key', async () => {
    const response = await call('/species/pikachu');
    expect(response.headers.get('RateLimit')).toBeNull();
  });
});

describe('Idempotency-Key per API key', () => {
  it('keeps two clients’ equal keys apart', async () => {
    const [a, b] = [await createKey({ scopes: ['write'] }), await createKey({ scopes: ['write'] })];
    const [trainerA, trainerB] = [await createTrainer(), await createTrainer()];
    const [p1, p2] = [await createPokemon(trainerA.id), await createPokemon(trainerA.id)];
    const idempotencyKey = crypto.randomUUID();
    const trade = (pokemon: string) => ({ trainerA: trainerA.id, trainerB: trainerB.id, pokemonsA: [pokemon], pokemonsB: [] });
    const first = await call('/exchanges', { method: 'POST', key: a.key, json: trade(p1.id), headers: { 'Idempotency-Key': idempotencyKey } });
    expect(first.status).toBe(201);
    // The same Idempotency-Key from another client is a new request, not a replay nor a 422.
    const second = await call('/exchanges', { method: 'POST', key: b.key, json: trade(p2.id), headers: { 'Idempotency-Key': idempotencyKey } });
    expect(second.status).toBe(201);
    expect(second.headers.get('Idempotent-Replayed')).toBeNull();
    const replay = await call('/exchanges', { method: 'POST', key: a.key, json: trade(p1.id), headers: { 'Idempotency-Key': idempotencyKey } });
    expect(replay.headers.get('Idempotent-Replayed')).toBe('true');
  });
});

describe('upload quota per key', () => {
  it('refuses staging past a key’s quota with 429 and Retry-After, staging nothing', async () => {
    const writer = await createKey({ scopes: ['write'] });
    const rows = (prefix: string, n: number) =>
      ['id,firstName,lastName,dateOfBirth', ...Array.from({ length: n }, (_, i) => `${prefix}-${i},Quota,Test,2000-01-01`)].join('\n');
    const upload = (csv: string) =>
      callWithBindings({ UPLOAD_QUOTA_BYTES: '4000' }, '/uploads?type=trainer', { method: 'POST', key: writer.key, body: csv, headers: { 'Content-Type': 'text/csv' } });
    const small = await upload(rows(uniqueId('q'), 20));
    expect(small.status, await small.clone().text()).toBe(201);
    const large = await upload(rows(uniqueId('q'), 200));
    const problem = await expectProblem(large, 429);
    expect(problem).toMatchObject({ type: '/problems/rate-limited', quotaBytes: 4000 });
    expect(Number(large.headers.get('Retry-After'))).toBeGreaterThan(0);
    // The refused upload's bytes were given back: another small one still fits.
    expect((await upload(rows(uniqueId('q'), 20))).status).toBe(201);
  });
});
