/**
 * The edge read cache (turned on here with READ_CACHE_TTL_SECONDS; the rest of the suite runs
 * without it): hits cost no database round trip, every kind of write invalidates what it
 * changed before it answers, a slow fill cannot resurrect an old value, conditional requests.
 */
import { describe, expect, it } from 'vitest';
import { generationUrl, readCacheKey } from '../src/platform/read-cache.ts';
import { call, callWithBindings, DEAD_URL, expectProblem, roundTrips, type CallInit } from './support/api.ts';
import { createPokemon, createTrainer, uniqueId } from './support/fixtures.ts';

const CACHE_ON = { READ_CACHE_TTL_SECONDS: '60' };
const cached = (path: string, init: CallInit = {}) => callWithBindings(CACHE_ON, path, init);
const outcome = (response: Response) => /cache;desc="([^"]+)"/.exec(response.headers.get('Server-Timing') ?? '')?.[1];

async function json<T = Record<string, any>>(response: Response): Promise<T> {
  expect(response.status, await response.clone().text()).toBe(200);
  return (await response.json()) as T;
}

describe('hits', () => {
  it('answers a repeated read from the location’s cache with no database round trip', async () => {
    const trainer = await createTrainer();
    const first = await cached(`/trainers/${trainer.id}`);
    expect(outcome(first)).toBe('miss');
    // The primary answers a miss (Redis too, when this location has no generation record yet).
    expect(roundTrips(first)).toMatchObject({ db: 1, replica: 0 });
    const second = await cached(`/trainers/${trainer.id}`);
    expect(outcome(second)).toBe('hit-edge');
    expect(roundTrips(second)).toEqual({ db: 0, replica: 0, redis: 0 });
    expect(await second.json()).toEqual(await first.json());
    expect(second.headers.get('ETag')).toBe(first.headers.get('ETag'));
  });

  it('keeps an entry for READ_CACHE_TTL_SECONDS, and the Pokédex for an hour', async () => {
    const trainer = await createTrainer();
    const url = new URL(`http://api.test/trainers/${trainer.id}`);
    expect((await callWithBindings({ READ_CACHE_TTL_SECONDS: '7' }, url.pathname)).status).toBe(200);
    const generation = await (await caches.default.match(generationUrl))!.text();
    const entry = await caches.default.match(readCacheKey(generation, url));
    expect(entry?.headers.get('Cache-Control')).toBe('max-age=7');
    const species = await cached('/species/pikachu');
    expect(species.headers.get('Cache-Control')).toBe('public, max-age=3600');
    expect((await caches.default.match(readCacheKey('species', new URL('http://api.test/species/pikachu'))))?.headers.get('Cache-Control')).toBe('max-age=3600');
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
    await cached('/species/1'); // this location has a generation record: every reader below uses the same key
    const answers = await Promise.all(Array.from({ length: 6 }, () => cached(`/trainers/${trainer.id}/pokemon`)));
    for (const answer of answers) expect((await json(answer)).data).toEqual([]);
    expect(answers.reduce((sum, answer) => sum + roundTrips(answer).db + roundTrips(answer).replica, 0)).toBe(1);
    expect(answers.map(outcome).sort()).toEqual(['hit-coalesced', 'hit-coalesced', 'hit-coalesced', 'hit-coalesced', 'hit-coalesced', 'miss']);
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

  it('never serves a slow fill that lands after the write (versioned by generation)', async () => {
    const trainer = await createTrainer();
    const url = new URL(`http://api.test/trainers/${trainer.id}`);
    const stale = await json(await cached(url.pathname));
    const before = await (await caches.default.match(generationUrl))!.text();
    expect((await cached(url.pathname, { method: 'PATCH', json: { lastName: 'Renamed' } })).status).toBe(200);
    // A read that started before the PATCH stores its (old) answer only now.
    await caches.default.put(readCacheKey(before, url), new Response(JSON.stringify(stale), { headers: { 'Cache-Control': 'max-age=60' } }));
    expect((await json(await cached(url.pathname))).lastName).toBe('Renamed');
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
    // Forget this location's generation record, so the read must ask Redis for it.
    await caches.default.delete(generationUrl);
    const read = await callWithBindings(dead, `/trainers/${trainer.id}`);
    expect(outcome(read)).toBe('bypass');
    expect((await json(read)).id).toBe(trainer.id);
    const written = await callWithBindings(dead, `/trainers/${trainer.id}`, { method: 'PATCH', json: { firstName: 'Offline' } });
    expect(written.status).toBe(200);
    // The write still started a new generation here: nothing cached before it is served.
    expect((await json(await cached(`/trainers/${trainer.id}`))).firstName).toBe('Offline');
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
});
