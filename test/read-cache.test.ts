/**
 * The edge read cache (turned on here with READ_CACHE_TTL_SECONDS; the rest of the suite runs
 * without it): hits cost no database round trip, every kind of write invalidates what it
 * changed before it answers — in every isolate of the location —, neither a slow fill nor crossed
 * puts of the generation record can bring an old value back, conditional requests, Redis dying.
 * Each case starts as a fresh isolate in a location without a generation record would.
 */
import { Redis } from '@upstash/redis/cloudflare';
import { env } from 'cloudflare:workers';
import { Hono } from 'hono';
import { afterEach, beforeEach, describe, expect, inject, it, vi } from 'vitest';
import type { AppEnv } from '../src/env.ts';
import { forgetIsolateState, GENERATION_KEY, GENERATION_RECORD, publishGeneration, readCache, readCacheKey, refillGeneration } from '../src/platform/read-cache.ts';
import { services } from '../src/platform/services.ts';
import { call, callWithBindings, DEAD_URL, expectProblem, roundTrips, type CallInit } from './support/api.ts';
import { createPokemon, createTrainer, uniqueId } from './support/fixtures.ts';
import { makeOffer, trainerWithKey } from './support/offers.ts';

const CACHE_ON = { READ_CACHE_TTL_SECONDS: '60' };
const cached = (path: string, init: CallInit = {}) => callWithBindings(CACHE_ON, path, init);
const outcome = (response: Response) => /cache;desc="([^"]+)"/.exec(response.headers.get('Server-Timing') ?? '')?.[1];
const bindings = inject('bindings');
/** The run's Redis, read directly for the generation the Worker keeps there. */
const redis = new Redis({ url: bindings.UPSTASH_REDIS_REST_URL, token: bindings.UPSTASH_REDIS_REST_TOKEN, enableTelemetry: false, enableAutoPipelining: false });
const generationInRedis = async () => String((await redis.get<number>(GENERATION_KEY)) ?? 0);
/** The generation this location's readers use: its record in the Cache API. */
const generationAtLocation = async () => (await caches.default.match(GENERATION_RECORD))?.headers.get('X-Read-Cache-Generation') ?? undefined;

async function json<T = Record<string, any>>(response: Response): Promise<T> {
  expect(response.status, await response.clone().text()).toBe(200);
  return (await response.json()) as T;
}

beforeEach(async () => {
  forgetIsolateState();
  await caches.default.delete(GENERATION_RECORD);
});
afterEach(() => vi.restoreAllMocks());

describe('hits', () => {
  it('answers a repeated read from the isolate, then from the location, with no database round trip', async () => {
    const trainer = await createTrainer();
    const first = await cached(`/trainers/${trainer.id}`);
    expect(outcome(first)).toBe('miss');
    // No record at the location: the counter is read, the record put, the counter read again
    // (a writer may have put in between); the primary answers the miss.
    expect(roundTrips(first)).toEqual({ db: 1, replica: 0, redis: 2 });
    expect(await generationAtLocation()).toMatch(/^\d+$/);
    const second = await cached(`/trainers/${trainer.id}`);
    expect(outcome(second)).toBe('hit-isolate');
    expect(roundTrips(second)).toEqual({ db: 0, replica: 0, redis: 0 });
    expect(await second.json()).toEqual(await first.json());
    expect(second.headers.get('ETag')).toBe(first.headers.get('ETag'));
    // Another isolate of the location: the record and the entry are in the Cache API, no Redis.
    forgetIsolateState();
    const third = await cached(`/trainers/${trainer.id}`);
    expect(outcome(third)).toBe('hit-edge');
    expect(roundTrips(third)).toEqual({ db: 0, replica: 0, redis: 0 });
    expect(third.headers.get('ETag')).toBe(first.headers.get('ETag'));
    expect(outcome(await cached(`/trainers/${trainer.id}`))).toBe('hit-isolate');
  });

  it('logs the miss, not the hits: a hit makes no round trip, and Workers logs its invocation anyway', async () => {
    const trainer = await createTrainer();
    const path = `/trainers/${trainer.id}`;
    const log = vi.spyOn(console, 'log');
    const miss = await cached(path);
    const hit = await cached(path);
    const revalidated = await cached(path, { headers: { 'If-None-Match': hit.headers.get('ETag')! } });
    expect([miss, hit, revalidated].map((response) => [response.status, outcome(response)])).toEqual([
      [200, 'miss'],
      [200, 'hit-isolate'],
      [304, 'hit-isolate'],
    ]);
    const lines = log.mock.calls.map(([first]) => String(first)).filter((text) => text.startsWith('{"level"')).map((text) => JSON.parse(text));
    expect(lines).toEqual([expect.objectContaining({ method: 'GET', route: '/trainers/:id', status: 200, roundTrips: roundTrips(miss) })]);
  });

  it('answers the same query with its parameters in another order from the same entry', async () => {
    const trainer = await createTrainer();
    await createPokemon(trainer.id);
    const first = await cached(`/pokemon?owner=${trainer.id}&minLevel=1&limit=5`);
    expect(outcome(first)).toBe('miss');
    const reordered = await cached(`/pokemon?limit=5&minLevel=1&owner=${trainer.id}`);
    expect(outcome(reordered)).toBe('hit-isolate');
    expect(await reordered.json()).toEqual(await first.json());
    // Another value is another entry.
    expect(outcome(await cached(`/pokemon?limit=4&minLevel=1&owner=${trainer.id}`))).toBe('miss');
  });

  it('keeps an entry for READ_CACHE_TTL_SECONDS (its expiry read, not waited for), and the Pokédex for an hour', async () => {
    const trainer = await createTrainer();
    const path = `/trainers/${trainer.id}`;
    const url = `http://api.test${path}`;
    const before = Date.now();
    expect((await callWithBindings({ READ_CACHE_TTL_SECONDS: '7' }, path)).status).toBe(200);
    const entry = await caches.default.match(readCacheKey((await generationAtLocation())!, url));
    expect(entry?.headers.get('Cache-Control')).toBe('max-age=7');
    // The record lives as long: a location re-reads the counter once per TTL.
    const record = await caches.default.match(GENERATION_RECORD);
    expect(record?.headers.get('Cache-Control')).toBe('max-age=7');
    expect(Number(record?.headers.get('X-Read-Cache-Expires'))).toBeGreaterThanOrEqual(before + 7000);
    const expires = Number(entry?.headers.get('X-Read-Cache-Expires'));
    expect(expires).toBeGreaterThanOrEqual(before + 7000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 7000);
    const species = await cached('/species/pikachu');
    expect(species.headers.get('Cache-Control')).toBe('public, max-age=3600');
    expect((await caches.default.match(readCacheKey('species', 'http://api.test/species/pikachu')))?.headers.get('Cache-Control')).toBe('max-age=3600');
  });

  it('keeps entries 60 seconds when READ_CACHE_TTL_SECONDS is not set', async () => {
    const trainer = await createTrainer();
    const path = `/trainers/${trainer.id}`;
    const url = `http://api.test${path}`;
    expect((await callWithBindings({ READ_CACHE_TTL_SECONDS: undefined }, path)).status).toBe(200);
    const entry = await caches.default.match(readCacheKey((await generationAtLocation())!, url));
    expect(entry?.headers.get('Cache-Control')).toBe('max-age=60');
  });

  it('never serves an entry past its expiry, even one the Cache API still returns', async () => {
    const trainer = await createTrainer();
    const path = `/trainers/${trainer.id}`;
    const url = `http://api.test${path}`;
    expect((await cached(`${path}/pokemon`)).status).toBe(200); // records the location's generation
    const expired = { 'Content-Type': 'application/json', ETag: '"expired"', 'Cache-Control': 'max-age=60', 'X-Read-Cache-Expires': String(Date.now() - 1) };
    await caches.default.put(readCacheKey((await generationAtLocation())!, url), new Response('{"id":"expired"}', { headers: expired }));
    const read = await cached(path);
    expect(outcome(read)).toBe('miss');
    expect((await json(read)).id).toBe(trainer.id);
  });

  it('drops an isolate entry once it has expired, and asks the database again', async () => {
    const trainer = await createTrainer();
    expect(outcome(await cached(`/trainers/${trainer.id}`))).toBe('miss');
    expect(outcome(await cached(`/trainers/${trainer.id}`))).toBe('hit-isolate');
    // The clock the expiry is read against, moved past the 60 s TTL (nothing waits for it).
    const later = Date.now() + 61_000;
    vi.spyOn(Date, 'now').mockReturnValue(later);
    const read = await cached(`/trainers/${trainer.id}`);
    expect(outcome(read)).toBe('miss');
    expect((await json(read)).id).toBe(trainer.id);
    expect(roundTrips(read).db).toBe(1);
  });

  it('answers an entry the location holds without a Content-Type as JSON', async () => {
    const trainer = await createTrainer();
    const path = `/trainers/${trainer.id}`;
    const url = `http://api.test${path}`;
    expect((await cached(`${path}/pokemon`)).status).toBe(200); // records the location's generation
    // A byte body: the Cache API keeps no Content-Type for it.
    const headers = { ETag: '"bytes"', 'Cache-Control': 'max-age=60', 'X-Read-Cache-Expires': String(Date.now() + 60_000) };
    const stored = await json(await call(path));
    await caches.default.put(readCacheKey((await generationAtLocation())!, url), new Response(new TextEncoder().encode(JSON.stringify(stored)), { headers }));
    const read = await cached(path);
    expect(outcome(read)).toBe('hit-edge');
    expect(roundTrips(read)).toEqual({ db: 0, replica: 0, redis: 0 });
    expect(read.headers.get('Content-Type')).toBe('application/json');
    expect(read.headers.get('ETag')).toBe('"bytes"');
    expect(await read.json()).toEqual(stored);
  });

  describe('the isolate tier’s bounds (256 KiB an answer, 16 MiB in all)', () => {
    /** Puts a trainer answer of about `chars` characters at the location under `/trainers/<id>`, as a fill would. */
    async function putLarge(id: string, chars: number, like: Record<string, unknown>): Promise<string> {
      const path = `/trainers/${id}`;
      const body = JSON.stringify({ ...like, id, firstName: 'x'.repeat(chars) });
      const headers = { 'Content-Type': 'application/json', ETag: `"${id}"`, 'Cache-Control': 'max-age=60', 'X-Read-Cache-Expires': String(Date.now() + 60_000) };
      await caches.default.put(readCacheKey((await generationAtLocation())!, `http://api.test${path}`), new Response(body, { headers }));
      return path;
    }

    it('leaves an answer over 256 KiB to the location: every read of it is a location hit', async () => {
      const trainer = await createTrainer();
      expect((await cached(`/trainers/${trainer.id}/pokemon`)).status).toBe(200); // records the location's generation
      const path = await putLarge(uniqueId('big'), 300 * 1024, await json(await call(`/trainers/${trainer.id}`)));
      for (let i = 0; i < 2; i++) {
        const read = await cached(path);
        expect(outcome(read)).toBe('hit-edge');
        expect((await json(read)).firstName).toHaveLength(300 * 1024);
      }
    });

    it('forgets the least recently used answers once it holds more than 16 MiB', async () => {
      const trainer = await createTrainer();
      expect((await cached(`/trainers/${trainer.id}/pokemon`)).status).toBe(200);
      const like = await json(await call(`/trainers/${trainer.id}`));
      const chars = 250 * 1024;
      // One answer more than 16 MiB holds.
      const paths: string[] = [];
      for (let i = 0; i <= Math.floor((16 * 1024 * 1024) / chars); i++) paths.push(await putLarge(uniqueId(`full${i}`), chars, like));
      for (const path of paths) expect(outcome(await cached(path))).toBe('hit-edge');
      // The newest is still in memory; the oldest made room, and comes from the location again.
      expect(outcome(await cached(paths.at(-1)!))).toBe('hit-isolate');
      expect(outcome(await cached(paths[1]!))).toBe('hit-isolate');
      expect(outcome(await cached(paths[0]!))).toBe('hit-edge');
    });

    it('keeps the Pokédex in memory across a write, and drops the answers read at the old generation', async () => {
      const trainer = await createTrainer();
      const path = `/trainers/${trainer.id}`;
      // The location may hold it from an earlier test (an hour); either way this isolate now keeps it.
      expect(['miss', 'hit-edge']).toContain(outcome(await cached('/species/pikachu')));
      expect(outcome(await cached(path))).toBe('miss');
      expect((await cached(path, { method: 'PATCH', json: { firstName: 'Renamed' } })).status).toBe(200);
      const reread = await cached(path);
      expect(outcome(reread)).toBe('miss');
      expect((await json(reread)).firstName).toBe('Renamed');
      expect(outcome(await cached('/species/pikachu'))).toBe('hit-isolate');
    });
  });

  it('keeps a parameter sent twice in the key, in the order it was sent', () => {
    const key = readCacheKey('7', 'http://api.test/species?type=water&limit=2&type=fire');
    expect(key).toBe('https://read-cache.internal/7/species?limit=2&type=water&type=fire');
    expect(readCacheKey('7', 'http://api.test/trainers/ash')).toBe('https://read-cache.internal/7/trainers/ash');
    expect(readCacheKey('7', 'http://api.test/trainers/ash?')).toBe('https://read-cache.internal/7/trainers/ash');
    expect(readCacheKey('local-1/2', 'https://api.test:8443/trainers/ash%20x?b=2&a=1')).toBe('https://read-cache.internal/local-1%2F2/trainers/ash%20x?a=1&b=2');
  });

  it('is bypassed by a request carrying X-Bookmark, which the database answers', async () => {
    const trainer = await createTrainer();
    const read = await cached(`/trainers/${trainer.id}`);
    const bookmark = read.headers.get('X-Bookmark');
    expect(bookmark).toMatch(/^[0-9a-f]{16}$/);
    const bookmarked = await cached(`/trainers/${trainer.id}`, { headers: { 'X-Bookmark': bookmark! } });
    expect(outcome(bookmarked)).toBe('bypass');
    expect(roundTrips(bookmarked).db + roundTrips(bookmarked).replica).toBe(1);
  });

  it('is off with READ_CACHE_TTL_SECONDS=0', async () => {
    const trainer = await createTrainer();
    for (let i = 0; i < 2; i++) expect(outcome(await callWithBindings({ READ_CACHE_TTL_SECONDS: '0' }, `/trainers/${trainer.id}`))).toBe('bypass');
  });
});

describe('stampedes', () => {
  it('fills a key once when many misses of it arrive at once', async () => {
    const trainer = await createTrainer();
    await cached(`/trainers/${trainer.id}`); // this isolate knows the generation: every reader below uses the same key
    const answers = await Promise.all(Array.from({ length: 6 }, () => cached(`/trainers/${trainer.id}/pokemon`)));
    for (const answer of answers) expect((await json(answer)).data).toEqual([]);
    expect(answers.reduce((sum, answer) => sum + roundTrips(answer).db + roundTrips(answer).replica, 0)).toBe(1);
    expect(answers.map(outcome).sort()).toEqual(['hit-coalesced', 'hit-coalesced', 'hit-coalesced', 'hit-coalesced', 'hit-coalesced', 'miss']);
  });
});

describe('a fill that never finishes (its request cancelled)', () => {
  it('is waited for two dependency timeouts at most, then each reader reads for itself', async () => {
    let entered!: () => void;
    const inHandler = new Promise<void>((resolve) => (entered = resolve));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let calls = 0;
    const app = new Hono<AppEnv>()
      .use(services)
      .use(readCache)
      .get('/trainers/:id', async (c) => {
        if (calls++ === 0) {
          entered();
          await gate; // the first reader's fill hangs, as one whose request Workers cancelled would
        }
        return c.json({ id: c.req.param('id'), read: calls });
      });
    const bindings = { ...env, ...CACHE_ON, DEPENDENCY_TIMEOUT_MS: '100' };
    const context = { waitUntil: () => {}, passThroughOnException: () => {}, props: {} } as unknown as ExecutionContext;
    const path = `/trainers/${uniqueId('stuck')}`;
    const stuck = app.request(path, undefined, bindings, context);
    await inHandler;
    const started = performance.now();
    const second = await app.request(path, undefined, bindings, context);
    expect(performance.now() - started).toBeGreaterThanOrEqual(150);
    expect(outcome(second)).toBe('miss');
    expect(second.headers.get('ETag')).toMatch(/^"[0-9a-f]{32}"$/);
    expect(await second.json()).toMatchObject({ read: 2 });
    // The second reader filled in the stuck one's place: the next reader is a hit at once.
    const third = await app.request(path, undefined, bindings, context);
    expect(outcome(third)).toBe('hit-isolate');
    release();
    expect((await stuck).status).toBe(200);
  });
});

describe('stampedes of a missing record', () => {
  it('lets each reader waiting on a fill that found nothing ask the database itself', async () => {
    const trainer = await createTrainer();
    await cached(`/trainers/${trainer.id}`); // this isolate knows the generation: every reader below uses the same key
    const missing = `/trainers/${uniqueId('nobody')}`;
    const answers = await Promise.all(Array.from({ length: 4 }, () => cached(missing)));
    for (const answer of answers) await expectProblem(answer, 404);
    // None waited for an answer to share: every reader is a miss, and each asked the database.
    expect(answers.map(outcome)).toEqual(['miss', 'miss', 'miss', 'miss']);
    for (const answer of answers) expect(roundTrips(answer).db + roundTrips(answer).replica).toBe(1);
  });
});

describe('freshness: every write invalidates what it changed before it answers', () => {
  it('after PATCH', async () => {
    const trainer = await createTrainer();
    await cached(`/trainers/${trainer.id}`);
    await cached('/trainers?limit=100&q=Ashton');
    expect((await cached(`/trainers/${trainer.id}`, { method: 'PATCH', json: { firstName: 'Ashton' } })).status).toBe(200);
    expect((await json(await cached(`/trainers/${trainer.id}`))).firstName).toBe('Ashton');
    expect((await json<{ data: { id: string }[] }>(await cached('/trainers?limit=100&q=Ashton'))).data.map((t) => t.id)).toContain(trainer.id);
  });

  it('after POST of a Pokémon: its trainer’s count and list', async () => {
    const trainer = await createTrainer();
    expect((await json(await cached(`/trainers/${trainer.id}`))).pokemonCount).toBe(0);
    expect((await json(await cached(`/trainers/${trainer.id}/pokemon`))).data).toEqual([]);
    const created = await cached('/pokemon', { method: 'POST', json: { id: uniqueId('p'), nickname: 'N', species: 'pikachu', level: 5, owner: trainer.id, dateOfOwnership: '2020-01-01' } });
    expect(created.status).toBe(201);
    expect((await json(await cached(`/trainers/${trainer.id}`))).pokemonCount).toBe(1);
    expect((await json(await cached(`/trainers/${trainer.id}/pokemon`))).data).toHaveLength(1);
  });

  it('after a cascade DELETE', async () => {
    const trainer = await createTrainer();
    const pokemon = await createPokemon(trainer.id);
    expect((await cached(`/pokemon/${pokemon.id}`)).status).toBe(200);
    expect((await cached(`/trainers/${trainer.id}?cascade=true`, { method: 'DELETE' })).status).toBe(204);
    expect((await cached(`/pokemon/${pokemon.id}`)).status).toBe(404);
    expect((await cached(`/trainers/${trainer.id}`)).status).toBe(404);
  });

  it('after an exchange: each Pokémon, both trainers’ lists, the history', async () => {
    const [a, b] = [await createTrainer(), await createTrainer()];
    const pokemon = await createPokemon(a.id);
    expect((await json(await cached(`/pokemon/${pokemon.id}`))).owner).toBe(a.id);
    expect((await json(await cached(`/trainers/${b.id}/pokemon`))).data).toEqual([]);
    expect((await json(await cached(`/pokemon/${pokemon.id}/history`))).data).toHaveLength(1);
    const traded = await cached('/exchanges', { method: 'POST', json: { trainerA: a.id, trainerB: b.id, pokemonsA: [pokemon.id], pokemonsB: [] } });
    expect(traded.status).toBe(201);
    expect((await json(await cached(`/pokemon/${pokemon.id}`))).owner).toBe(b.id);
    expect((await json(await cached(`/trainers/${b.id}/pokemon`))).data).toHaveLength(1);
    expect((await json(await cached(`/pokemon/${pokemon.id}/history`))).data).toHaveLength(2);
  });

  it('after an upload commit: every list it touches', async () => {
    const prefix = uniqueId('cached-upload');
    expect((await json(await cached(`/trainers?q=${prefix}`))).data).toEqual([]);
    const csv = `id,firstName,lastName,dateOfBirth\n${prefix}-1,A,B,2000-01-01\n${prefix}-2,C,D,2000-01-01`;
    const staged = await cached('/uploads?type=trainer&commit=true', { method: 'POST', body: csv, headers: { 'Content-Type': 'text/csv' } });
    expect(staged.status).toBe(201);
    expect((await json(await cached(`/trainers?q=${prefix}`))).data).toHaveLength(2);
  });

  it('but not staging an upload, its pieces, or API keys: they change nothing the cache holds', async () => {
    const prefix = uniqueId('staged-only');
    const csv = `id,firstName,lastName,dateOfBirth\n${prefix}-1,A,B,2000-01-01`;
    const before = await generationInRedis();
    const staged = await cached('/uploads?type=trainer', { method: 'POST', body: csv, headers: { 'Content-Type': 'text/csv' } });
    expect(staged.status).toBe(201);
    const piece = await cached('/uploads?type=trainer', { method: 'POST', body: csv.slice(0, 20), headers: { 'Content-Type': 'text/csv', 'Upload-Complete': '?0' } });
    expect(piece.status).toBe(201);
    expect((await cached('/keys', { method: 'POST', json: { name: prefix, scopes: ['read'] } })).status).toBe(201);
    expect(roundTrips(staged).redis).toBeGreaterThan(0);
    expect(await generationInRedis()).toBe(before);
    // Its commit does.
    const { id } = (await staged.json()) as { id: string };
    expect((await cached(`/uploads/${id}/commit`, { method: 'POST' })).status).toBe(200);
    expect(Number(await generationInRedis())).toBeGreaterThan(Number(before));
  });

  it('after an upload commit of Pokémon: the owner’s count and list', async () => {
    const trainer = await createTrainer();
    expect((await json(await cached(`/trainers/${trainer.id}`))).pokemonCount).toBe(0);
    expect((await json(await cached(`/trainers/${trainer.id}/pokemon`))).data).toEqual([]);
    const prefix = uniqueId('cached-pk');
    const csv = `id,nickname,species,level,owner,dateOfOwnership\n${prefix}-1,A,pikachu,5,${trainer.id},2020-01-01\n${prefix}-2,B,eevee,6,${trainer.id},2020-01-02`;
    const staged = await cached('/uploads?type=pokemon&commit=true', { method: 'POST', body: csv, headers: { 'Content-Type': 'text/csv' } });
    expect(staged.status, await staged.clone().text()).toBe(201);
    expect((await json(await cached(`/trainers/${trainer.id}`))).pokemonCount).toBe(2);
    expect((await json(await cached(`/trainers/${trainer.id}/pokemon`))).data).toHaveLength(2);
  });

  it('after DELETE of a Pokémon: it, its trainer’s count and list', async () => {
    const trainer = await createTrainer();
    const pokemon = await createPokemon(trainer.id);
    expect((await json(await cached(`/trainers/${trainer.id}`))).pokemonCount).toBe(1);
    expect((await cached(`/pokemon/${pokemon.id}`)).status).toBe(200);
    expect((await cached(`/pokemon/${pokemon.id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await cached(`/pokemon/${pokemon.id}`)).status).toBe(404);
    expect((await json(await cached(`/trainers/${trainer.id}`))).pokemonCount).toBe(0);
    expect((await json(await cached(`/trainers/${trainer.id}/pokemon`))).data).toEqual([]);
  });

  it('after an accepted offer: each Pokémon, both trainers’ lists, the history, the exchanges', async () => {
    const [ash, misty] = [await trainerWithKey(1), await trainerWithKey(1)];
    const [given, wanted] = [ash.pokemon[0]!, misty.pokemon[0]!];
    expect((await json(await cached(`/pokemon/${given}`))).owner).toBe(ash.id);
    expect((await json(await cached(`/trainers/${misty.id}/pokemon`))).data.map((p: { id: string }) => p.id)).toEqual([wanted]);
    expect((await json(await cached(`/pokemon/${wanted}/history`))).data).toHaveLength(1);
    expect((await json(await cached(`/exchanges?trainer=${ash.id}`))).data).toEqual([]);
    const offer = await makeOffer(ash.key, { to: misty.id, give: [given], want: [wanted] });
    // The accept goes through the cache's middleware like any write (with the cache on).
    const accepted = await callWithBindings(CACHE_ON, `/offers/${offer.id}/accept`, { method: 'POST', key: misty.key });
    expect(accepted.status, await accepted.clone().text()).toBe(201);
    expect((await json(await cached(`/pokemon/${given}`))).owner).toBe(misty.id);
    expect((await json(await cached(`/pokemon/${wanted}`))).owner).toBe(ash.id);
    expect((await json(await cached(`/trainers/${misty.id}/pokemon`))).data.map((p: { id: string }) => p.id)).toEqual([given]);
    expect((await json(await cached(`/pokemon/${wanted}/history`))).data).toHaveLength(2);
    expect((await json(await cached(`/exchanges?trainer=${ash.id}`))).data).toHaveLength(1);
  });
});

describe('races', () => {
  it('never serves a slow fill that lands after the write (versioned by generation)', async () => {
    const trainer = await createTrainer();
    const path = `/trainers/${trainer.id}`;
    const url = `http://api.test${path}`;
    const stale = await json(await cached(path));
    const before = (await generationAtLocation())!;
    expect((await cached(path, { method: 'PATCH', json: { lastName: 'Renamed' } })).status).toBe(200);
    // A read that started before the PATCH stores its (old) answer only now.
    const headers = { 'Content-Type': 'application/json', ETag: '"stale"', 'Cache-Control': 'max-age=60', 'X-Read-Cache-Expires': String(Date.now() + 60_000) };
    await caches.default.put(readCacheKey(before, url), new Response(JSON.stringify(stale), { headers }));
    expect((await json(await cached(path))).lastName).toBe('Renamed');
    // Nor does another isolate of the location: it reads the record the write put.
    forgetIsolateState();
    expect((await json(await cached(path))).lastName).toBe('Renamed');
  });

  it('a write answers only after its location\'s record moved: an isolate with a hot entry sees it at once', async () => {
    const trainer = await createTrainer();
    const path = `/trainers/${trainer.id}`;
    expect(outcome(await cached(path))).toBe('miss');
    expect(outcome(await cached(path))).toBe('hit-isolate');
    const before = Number(await generationAtLocation());
    // The write leaves this isolate's memory (the hot entry, the generation it last read at) as
    // it was: to this isolate it is a write by another isolate of the location.
    const written = await cached(path, { method: 'PATCH', json: { firstName: 'Elsewhere' } });
    expect(written.status).toBe(200);
    // INCR, the record's put, the GET that checks no other writer overtook it.
    expect(roundTrips(written).redis).toBe(2);
    expect(Number(await generationAtLocation())).toBeGreaterThan(before);
    const read = await cached(path);
    expect(outcome(read)).toBe('miss');
    expect(roundTrips(read).redis).toBe(0);
    expect((await json(read)).firstName).toBe('Elsewhere');
  });

  it('crossed writers: a put that lands after a later writer\'s put catches up with the counter', async () => {
    const trainer = await createTrainer();
    const path = `/trainers/${trainer.id}`;
    expect(outcome(await cached(path))).toBe('miss');
    // Writer A's INCR answers first, but its put is slow…
    const slowWriter = await redis.incr(GENERATION_KEY);
    // …writer B increments after it, puts its generation and answers…
    expect((await cached(path, { method: 'PATCH', json: { firstName: 'Later' } })).status).toBe(200);
    const afterB = Number(await generationAtLocation());
    expect(afterB).toBeGreaterThan(slowWriter);
    expect(outcome(await cached(path))).toBe('miss');
    expect(outcome(await cached(path))).toBe('hit-isolate');
    // …then A's put lands, and A re-reads the counter and puts B's generation back.
    expect(await publishGeneration(caches.default, redis, slowWriter, 60)).toBeGreaterThanOrEqual(afterB);
    expect(Number(await generationAtLocation())).toBeGreaterThanOrEqual(afterB);
    const read = await cached(path);
    expect((await json(read)).firstName).toBe('Later');
  });

  it('a cold location refills its record from the counter, and a reader never puts back a value a writer overtook', async () => {
    const trainer = await createTrainer();
    const path = `/trainers/${trainer.id}`;
    expect(await generationAtLocation()).toBeUndefined();
    const counterBefore = Number(await generationInRedis());
    expect((await json(await cached(path))).firstName).toBe(trainer.firstName);
    expect(Number(await generationAtLocation())).toBeGreaterThanOrEqual(counterBefore);
    // Evicted again: a reader finds no record and reads the counter…
    await caches.default.delete(GENERATION_RECORD);
    const readerSaw = (await redis.get<number>(GENERATION_KEY)) ?? 0;
    // …a write lands (its INCR, its put) before the reader's refill…
    expect((await cached(path, { method: 'PATCH', json: { firstName: 'Refilled' } })).status).toBe(200);
    const written = await generationAtLocation();
    expect(Number(written)).toBeGreaterThan(readerSaw);
    // …which finds the record present and keeps it, without even a catch-up read (its Redis is unreachable here).
    const unreachable = new Redis({ url: DEAD_URL, token: 'none', enableTelemetry: false, enableAutoPipelining: false, retry: false });
    expect(await refillGeneration(caches.default, unreachable, readerSaw, 60)).toBe(written);
    expect(await generationAtLocation()).toBe(written);
    expect((await json(await cached(path))).firstName).toBe('Refilled');
  });
  it('a writer whose Redis holds no counter keeps the generation it publishes', async () => {
    await redis.del(GENERATION_KEY);
    expect(await publishGeneration(caches.default, redis, 42, 60)).toBe(42);
    expect(await generationAtLocation()).toBe('42');
  });

  it('a Redis that lost its counter never hands out a generation that cached entries were filled at', async () => {
    const trainer = await createTrainer();
    const path = `/trainers/${trainer.id}`;
    // Filled at a small generation, as a young counter has.
    await redis.set(GENERATION_KEY, 1);
    expect((await json(await cached(path))).firstName).toBe(trainer.firstName);
    expect(await generationAtLocation()).toBe('1');
    // Redis restarts empty, the location forgets its record; the entries stay.
    await redis.del(GENERATION_KEY);
    await caches.default.delete(GENERATION_RECORD);
    forgetIsolateState();
    expect((await cached(path, { method: 'PATCH', json: { firstName: 'Restarted' } })).status).toBe(200);
    expect((await json(await cached(path))).firstName).toBe('Restarted');
    // The counter started again from the clock, far above the generations filled before.
    expect(Number(await generationInRedis())).toBeGreaterThan(Date.now() * 1000 - 60_000_000);
    // A reader that finds neither counter nor record starts it the same way.
    await redis.del(GENERATION_KEY);
    await caches.default.delete(GENERATION_RECORD);
    forgetIsolateState();
    await cached(path);
    expect(Number(await generationAtLocation())).toBeGreaterThan(Date.now() * 1000 - 60_000_000);
  });
});

describe('conditional requests', () => {
  it('answers If-None-Match with 304 and no body; HEAD agrees with GET', async () => {
    const trainer = await createTrainer();
    const first = await cached(`/trainers/${trainer.id}`);
    const etag = first.headers.get('ETag')!;
    expect(etag).toMatch(/^"[0-9a-f]{32}"$/);
    expect(first.headers.get('Cache-Control')).toBe('public, no-cache');
    const revalidated = await cached(`/trainers/${trainer.id}`, { headers: { 'If-None-Match': etag } });
    expect(revalidated.status).toBe(304);
    expect(await revalidated.text()).toBe('');
    expect(revalidated.headers.get('ETag')).toBe(etag);
    const head = await cached(`/trainers/${trainer.id}`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('ETag')).toBe(etag);
    expect(await head.text()).toBe('');
    // A changed resource has a new tag: the old one no longer matches.
    await cached(`/trainers/${trainer.id}`, { method: 'PATCH', json: { firstName: 'Changed' } });
    expect((await cached(`/trainers/${trainer.id}`, { headers: { 'If-None-Match': etag } })).status).toBe(200);
  });
});

describe('degradation', () => {
  it('reads from the database and writes go on when Redis is unreachable', async () => {
    const trainer = await createTrainer();
    const dead = { ...CACHE_ON, UPSTASH_REDIS_REST_URL: DEAD_URL };
    const read = await callWithBindings(dead, `/trainers/${trainer.id}`);
    expect(outcome(read)).toBe('bypass');
    expect((await json(read)).id).toBe(trainer.id);
    const written = await callWithBindings(dead, `/trainers/${trainer.id}`, { method: 'PATCH', json: { firstName: 'Offline' } });
    expect(written.status).toBe(200);
    // The write still started a new generation here (a local one): nothing cached before it is served.
    expect((await json(await cached(`/trainers/${trainer.id}`))).firstName).toBe('Offline');
  });

  it('invalidates after a write that failed with a 5xx: the database may have changed before the failure', async () => {
    const trainer = await createTrainer();
    expect(outcome(await cached(`/trainers/${trainer.id}`))).toBe('miss');
    const before = await generationAtLocation();
    const failed = await callWithBindings({ ...CACHE_ON, NEON_FETCH_ENDPOINT: `${DEAD_URL}/sql` }, `/trainers/${trainer.id}`, { method: 'PATCH', json: { firstName: 'Maybe' } });
    await expectProblem(failed, 503);
    expect(await generationAtLocation()).not.toBe(before);
    expect(outcome(await cached(`/trainers/${trainer.id}`))).toBe('miss');
  });

  it('keeps answering 200 when its Redis is killed: hits, then the database, and writes invalidate this isolate', async () => {
    const { url, token, stopUrl } = inject('privateRedis');
    const own = { ...CACHE_ON, UPSTASH_REDIS_REST_URL: url, UPSTASH_REDIS_REST_TOKEN: token };
    const trainer = await createTrainer();
    const path = `/trainers/${trainer.id}`;
    expect(outcome(await callWithBindings(own, path))).toBe('miss');
    expect(outcome(await callWithBindings(own, path))).toBe('hit-isolate');
    expect((await fetch(stopUrl, { method: 'POST' })).status).toBe(200);
    // The location's record needs no Redis: hits go on, in this isolate and in a fresh one.
    const hit = await callWithBindings(own, path);
    expect(outcome(hit)).toBe('hit-isolate');
    expect(roundTrips(hit).redis).toBe(0);
    forgetIsolateState();
    expect(outcome(await callWithBindings(own, path))).toBe('hit-edge');
    // A location without a record cannot learn the generation: the database answers.
    await caches.default.delete(GENERATION_RECORD);
    const read = await callWithBindings(own, path);
    expect(outcome(read)).toBe('bypass');
    expect((await json(read)).id).toBe(trainer.id);
    const written = await callWithBindings(own, path, { method: 'PATCH', json: { firstName: 'AfterRedis' } });
    expect(written.status).toBe(200);
    // The write's INCR failed: a generation of the location's own, so reads are cached again here, and fresh.
    const after = await callWithBindings(own, path);
    expect(outcome(after)).toBe('miss');
    expect((await json(after)).firstName).toBe('AfterRedis');
    expect(outcome(await callWithBindings(own, path))).toBe('hit-isolate');
  });
});

describe('If-Match on PATCH and DELETE (optimistic concurrency)', () => {
  const etagOf = async (path: string) => (await call(path)).headers.get('ETag')!;

  it('writes when the ETag still matches, and answers 412 (nothing written) once it does not', async () => {
    const trainer = await createTrainer();
    const path = `/trainers/${trainer.id}`;
    const tag = await etagOf(path);
    const first = await call(path, { method: 'PATCH', json: { firstName: 'First' }, headers: { 'If-Match': tag } });
    expect(first.status).toBe(200);
    // Two round trips: the representation read, then the write conditional on its version.
    expect(roundTrips(first).db).toBe(2);
    const stale = await call(path, { method: 'PATCH', json: { firstName: 'Second' }, headers: { 'If-Match': tag } });
    expect((await expectProblem(stale, 412)).type).toBe('/problems/precondition-failed');
    expect(((await (await call(path)).json()) as { firstName: string }).firstName).toBe('First');
    await expectProblem(await call(path, { method: 'DELETE', headers: { 'If-Match': tag } }), 412);
    expect((await call(path)).status).toBe(200);
    expect((await call(path, { method: 'DELETE', headers: { 'If-Match': await etagOf(path) } })).status).toBe(204);
  });

  it('sees a trainer change when one of its counts does (a new Pokémon)', async () => {
    const trainer = await createTrainer();
    const path = `/trainers/${trainer.id}`;
    const tag = await etagOf(path);
    await createPokemon(trainer.id);
    await expectProblem(await call(path, { method: 'PATCH', json: { lastName: 'X' }, headers: { 'If-Match': tag } }), 412);
  });

  it('guards Pokémon too, and If-Match: * needs the resource to exist', async () => {
    const trainer = await createTrainer();
    const pokemon = await createPokemon(trainer.id);
    const path = `/pokemon/${pokemon.id}`;
    const tag = await etagOf(path);
    expect((await call(path, { method: 'PATCH', json: { level: 50 }, headers: { 'If-Match': tag } })).status).toBe(200);
    await expectProblem(await call(path, { method: 'DELETE', headers: { 'If-Match': tag } }), 412);
    expect((await call(path, { method: 'PATCH', json: { level: 51 }, headers: { 'If-Match': '*' } })).status).toBe(200);
    await expectProblem(await call(`/pokemon/${uniqueId('ghost')}`, { method: 'PATCH', json: { level: 2 }, headers: { 'If-Match': '*' } }), 412);
    await expectProblem(await call(`/trainers/${uniqueId('ghost')}`, { method: 'DELETE', headers: { 'If-Match': '*' } }), 412);
  });

  it('lets exactly one of several concurrent writes with the same ETag through', async () => {
    const trainer = await createTrainer();
    const pokemon = await createPokemon(trainer.id);
    const statuses = async (path: string, init: (index: number) => CallInit) => {
      const tag = await etagOf(path);
      const responses = await Promise.all(Array.from({ length: 6 }, (_, index) => call(path, { ...init(index), headers: { 'If-Match': tag } })));
      return responses.map((response) => response.status).sort();
    };
    // The ETag is checked before the write and again by the write itself (a version both read): a racer loses either way.
    expect(await statuses(`/pokemon/${pokemon.id}`, (index) => ({ method: 'PATCH', json: { level: 10 + index } }))).toEqual([200, 412, 412, 412, 412, 412]);
    expect(await statuses(`/trainers/${trainer.id}`, (index) => ({ method: 'PATCH', json: { firstName: `Racer${index}` } }))).toEqual([200, 412, 412, 412, 412, 412]);
    // A delete that lost finds the resource changed, or already gone (404) if it passed the check before the winner deleted it.
    for (const path of [`/pokemon/${pokemon.id}`, `/trainers/${trainer.id}`]) {
      const [deleted, ...lost] = await statuses(path, () => ({ method: 'DELETE' }));
      expect(deleted).toBe(204);
      for (const status of lost) expect([404, 412]).toContain(status);
    }
  });

  it('lets only one of a PATCH and a DELETE sent together with the same ETag through (also for a trainer key)', async () => {
    const owner = await trainerWithKey(1);
    const cases = [
      { path: `/pokemon/${owner.pokemon[0]}`, patch: { level: 42 }, key: owner.key, query: '' },
      { path: `/trainers/${owner.id}`, patch: { firstName: 'Patched' }, key: undefined, query: '?cascade=true' },
    ];
    for (const { path, patch, key, query } of cases) {
      const tag = await etagOf(path);
      const headers = { 'If-Match': tag };
      // Both read the version first; the write that lands second finds it changed (or gone).
      const [patched, deleted] = await Promise.all([call(path, { method: 'PATCH', json: patch, headers, key }), call(`${path}${query}`, { method: 'DELETE', headers, key })]);
      const after = await call(path);
      if (patched.status === 200) {
        expect((await expectProblem(deleted, 412)).type, path).toBe('/problems/precondition-failed');
        expect(await after.json(), path).toMatchObject(patch);
      } else {
        expect(deleted.status, path).toBe(204);
        expect([404, 412], path).toContain(patched.status);
        expect(after.status, path).toBe(404);
      }
    }
  });
});
