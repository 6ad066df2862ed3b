import { Redis } from '@upstash/redis/cloudflare';
import { describe, expect, inject, it } from 'vitest';
import { today } from '../src/domain/fields.ts';
import { canonicalJson, sha256 } from '../src/platform/hashing.ts';
import { idempotencySlot } from '../src/http/idempotency.ts';
import { call, callWithBindings, DEAD_URL, expectProblem, roundTrips, expectedTrips } from './support/api.ts';
import { postExchange, historyOf, ownerOf, type Exchange, type ExchangeBody } from './support/exchanges.ts';
import { createPokemon, createTrainer, uniqueId } from './support/fixtures.ts';

const bindings = inject('bindings');
const redis = new Redis({ url: bindings.UPSTASH_REDIS_REST_URL, token: bindings.UPSTASH_REDIS_REST_TOKEN, enableTelemetry: false });
/** The slot the API keeps this run's admin key's exchange requests in. */
const slotOf = (key: string) => idempotencySlot('admin', 'exchanges', key);

/** Two trainers; A owns `a` Pokémon and B owns `b`. */
async function setUp(a = 2, b = 1): Promise<ExchangeBody> {
  const [trainerA, trainerB] = await Promise.all([createTrainer(), createTrainer()]);
  const pokemonsA = await Promise.all(Array.from({ length: a }, () => createPokemon(trainerA.id).then((p) => p.id)));
  const pokemonsB = await Promise.all(Array.from({ length: b }, () => createPokemon(trainerB.id).then((p) => p.id)));
  return { trainerA: trainerA.id, trainerB: trainerB.id, pokemonsA, pokemonsB };
}

describe('POST /exchanges', () => {
  it('trades every Pokémon in one round trip and records the exchange in their history', async () => {
    const body = await setUp(2, 1);
    const response = await postExchange(body);
    expect(response.status).toBe(201);
    expect(roundTrips(response)).toEqual(expectedTrips({ writes: 1 }));
    const created = (await response.json()) as Exchange;
    expect(created).toEqual({ ...body, id: expect.stringMatching(/^ex_[0-9a-f]{32}$/), createdAt: expect.any(String), offerId: null });
    expect(response.headers.get('Location')).toBe(`/exchanges/${created.id}`);

    const newOwners = new Map([...body.pokemonsA.map((id) => [id, body.trainerB] as const), ...body.pokemonsB.map((id) => [id, body.trainerA] as const)]);
    for (const [id, owner] of newOwners) {
      const pokemon = (await (await call(`/pokemon/${id}`)).json()) as { owner: string; dateOfOwnership: string };
      expect(pokemon).toMatchObject({ owner, dateOfOwnership: created.createdAt.slice(0, 10) });
      expect((await historyOf(id)).at(-1)).toMatchObject({ trainer: owner, source: 'exchanged', exchangeId: created.id, acquiredOn: today() });
    }
    expect(await (await call(`/exchanges/${created.id}`)).json()).toEqual(created);
  });

  it('accepts a gift: one side empty', async () => {
    const body = await setUp(1, 0);
    const response = await postExchange(body);
    expect(response.status).toBe(201);
    expect(await ownerOf(body.pokemonsA[0]!)).toBe(body.trainerB);
  });

  it('answers 404 naming every unknown trainer and Pokémon, and changes nothing', async () => {
    const { trainerA, pokemonsA } = await setUp(2, 0);
    const ghostTrainer = uniqueId('ghost');
    const ghostPokemon = uniqueId('missingno');
    const response = await postExchange({ trainerA, trainerB: ghostTrainer, pokemonsA: [pokemonsA[0], ghostPokemon, pokemonsA[1]], pokemonsB: [] });
    expect(roundTrips(response)).toEqual(expectedTrips({ writes: 1 }));
    const problem = await expectProblem(response, 404);
    expect(problem).toMatchObject({ unknownTrainers: [ghostTrainer], unknownPokemon: [ghostPokemon] });
    expect(problem.errors).toEqual([
      { pointer: '/trainerB', detail: expect.stringContaining(ghostTrainer) },
      { pointer: '/pokemonsA/1', detail: expect.stringContaining(ghostPokemon) },
    ]);
    expect(await ownerOf(pokemonsA[0]!)).toBe(trainerA);
    expect(await historyOf(pokemonsA[0]!)).toHaveLength(1);
  });

  it('answers 409 naming each Pokémon its trainer does not own and who does, and changes nothing', async () => {
    const body = await setUp(2, 1);
    const third = await createTrainer();
    const stranger = (await createPokemon(third.id)).id;
    const response = await postExchange({ ...body, pokemonsB: [...body.pokemonsB, stranger, body.pokemonsA[1]], pokemonsA: [body.pokemonsA[0]] });
    expect(roundTrips(response)).toEqual(expectedTrips({ writes: 1 }));
    const problem = await expectProblem(response, 409);
    expect(problem.conflicts).toEqual(
      expect.arrayContaining([
        { pokemon: stranger, expectedOwner: body.trainerB, owner: third.id },
        { pokemon: body.pokemonsA[1], expectedOwner: body.trainerB, owner: body.trainerA },
      ]),
    );
    expect(problem.conflicts).toHaveLength(2);
    expect((problem.errors as { pointer: string }[]).map((e) => e.pointer).sort()).toEqual(['/pokemonsB/1', '/pokemonsB/2']);
    for (const id of [...body.pokemonsA, ...body.pokemonsB]) expect(await historyOf(id)).toHaveLength(1);
    expect(await ownerOf(body.pokemonsA[0]!)).toBe(body.trainerA);
    expect(await ownerOf(stranger)).toBe(third.id);
  });

  it('answers 409 when the same trade is sent twice: the Pokémon moved with the first', async () => {
    const body = await setUp(1, 1);
    expect((await postExchange(body)).status).toBe(201);
    const problem = await expectProblem(await postExchange(body), 409);
    expect(problem.conflicts).toHaveLength(2);
  });

  it('lists every invalid field at once with JSON pointers', async () => {
    const response = await postExchange({
      trainerA: 'same',
      trainerB: 'same',
      pokemonsA: ['p1', 'bad id!', 'p2'],
      pokemonsB: ['p3', 'p1', 'p2'],
      extra: true,
    });
    const problem = await expectProblem(response, 422);
    expect((problem.errors as { pointer: string }[]).map((e) => e.pointer).sort()).toEqual([
      '/extra',
      '/pokemonsA/1',
      '/pokemonsB/1',
      '/pokemonsB/2',
      '/trainerB',
    ]);
  });

  it('refuses an empty trade, a missing field, and more than 100 Pokémon a side', async () => {
    const empty = await expectProblem(await postExchange({ trainerA: 'a', trainerB: 'b', pokemonsA: [], pokemonsB: [] }), 422);
    expect(empty.errors).toEqual([{ pointer: '/pokemonsA', detail: expect.stringContaining('at least one') }]);
    const missing = await expectProblem(await postExchange({ trainerA: 'a', pokemonsA: ['x'] }), 422);
    expect((missing.errors as { pointer: string }[]).map((e) => e.pointer).sort()).toEqual(['/pokemonsB', '/trainerB']);
    const many = Array.from({ length: 101 }, (_, i) => `p${i}`);
    const tooMany = await expectProblem(await postExchange({ trainerA: 'a', trainerB: 'b', pokemonsA: many, pokemonsB: [] }), 422);
    expect(tooMany.errors).toEqual([{ pointer: '/pokemonsA', detail: expect.stringContaining('at most 100') }]);
  });

  it('answers malformed JSON with 400 and a non-JSON body with 415', async () => {
    await expectProblem(await call('/exchanges', { method: 'POST', body: '{"trainerA":', headers: { 'Content-Type': 'application/json' } }), 400);
    await expectProblem(await call('/exchanges', { method: 'POST', body: 'a=b', headers: { 'Content-Type': 'text/plain' } }), 415);
  });
});

describe('POST /exchanges with Idempotency-Key', () => {
  it('replays the first answer for the same key and body, and trades nothing more', async () => {
    const body = await setUp(1, 1);
    const key = crypto.randomUUID();
    const first = await postExchange(body, { 'Idempotency-Key': key });
    expect(first.status).toBe(201);
    expect(roundTrips(first)).toEqual(expectedTrips({ writes: 1, redis: 2 }));
    const firstBody = await first.json();

    // Keys in another order are the same body.
    const { trainerA, trainerB, pokemonsA, pokemonsB } = body;
    const retry = await postExchange({ pokemonsB, pokemonsA, trainerB, trainerA }, { 'Idempotency-Key': key });
    expect(retry.status).toBe(201);
    expect(retry.headers.get('Idempotent-Replayed')).toBe('true');
    expect(retry.headers.get('Location')).toBe(first.headers.get('Location'));
    expect(roundTrips(retry)).toEqual(expectedTrips({ redis: 1 }));
    expect(await retry.json()).toEqual(firstBody);
    expect(await historyOf(pokemonsA[0]!)).toHaveLength(2);
    expect(await redis.ttl(slotOf(key))).toBeGreaterThan(24 * 60 * 60 - 60);
  });

  it('finds the committed exchange when the first answer was lost, instead of trading again', async () => {
    const body = await setUp(1, 1);
    const key = crypto.randomUUID();
    const first = await postExchange(body, { 'Idempotency-Key': key });
    expect(first.status).toBe(201);
    const firstBody = (await first.json()) as Exchange;
    // As if the first request timed out after its commit: the key was released, its answer never stored.
    await redis.del(slotOf(key));
    const retry = await postExchange(body, { 'Idempotency-Key': key });
    expect(retry.status).toBe(201);
    expect(await retry.json()).toEqual(firstBody);
    expect(await ownerOf(body.pokemonsA[0]!)).toBe(body.trainerB);
    expect(await historyOf(body.pokemonsA[0]!)).toHaveLength(2);
  });

  it('replays a 409 as well: the first answer stands', async () => {
    const body = await setUp(1, 1);
    expect((await postExchange(body)).status).toBe(201);
    const key = crypto.randomUUID();
    const first = await expectProblem(await postExchange(body, { 'Idempotency-Key': key }), 409);
    const replayed = await postExchange(body, { 'Idempotency-Key': key });
    expect(replayed.headers.get('Idempotent-Replayed')).toBe('true');
    expect(await expectProblem(replayed, 409)).toEqual(first);
  });

  it('answers 422 when the key is reused with a different body', async () => {
    const body = await setUp(2, 0);
    const key = crypto.randomUUID();
    expect((await postExchange({ ...body, pokemonsA: [body.pokemonsA[0]] }, { 'Idempotency-Key': key })).status).toBe(201);
    const problem = await expectProblem(await postExchange({ ...body, pokemonsA: [body.pokemonsA[1]] }, { 'Idempotency-Key': key }), 422);
    expect(problem.errors).toEqual([{ parameter: 'Idempotency-Key', detail: expect.any(String) }]);
    expect(await ownerOf(body.pokemonsA[1]!)).toBe(body.trainerA);
  });

  it('answers 409 while the first request with the key is still running', async () => {
    const body = await setUp(1, 0);
    const key = crypto.randomUUID();
    // A first request that has claimed the key and not finished, as it stands in Redis. (Racing two
    // real requests is not deterministic on PGlite, whose single session serializes everything.)
    await redis.set(slotOf(key), { state: 'in-flight', bodyHash: await sha256(canonicalJson(body)) }, { ex: 60 });
    const refused = await postExchange(body, { 'Idempotency-Key': key });
    const problem = await expectProblem(refused, 409);
    expect(problem.detail).toMatch(/still being processed/);
    expect(refused.headers.get('Retry-After')).toBe('1');
    expect(await ownerOf(body.pokemonsA[0]!)).toBe(body.trainerA);
  });

  it('frees the key when the exchange fails on our side, so a retry runs', async () => {
    const body = await setUp(1, 0);
    const key = crypto.randomUUID();
    const failed = await callWithBindings({ NEON_FETCH_ENDPOINT: `${DEAD_URL}/sql` }, '/exchanges', {
      method: 'POST',
      body: JSON.stringify(body),
      headers: { 'Content-Type': 'application/json', 'Idempotency-Key': key },
    });
    await expectProblem(failed, 503);
    const retry = await postExchange(body, { 'Idempotency-Key': key });
    expect(retry.status).toBe(201);
    expect(retry.headers.get('Idempotent-Replayed')).toBeNull();
  });

  it('refuses a key that is not 1–255 printable characters', async () => {
    const problem = await expectProblem(await postExchange(await setUp(1, 0), { 'Idempotency-Key': 'x'.repeat(256) }), 422);
    expect(problem.errors).toEqual([{ parameter: 'Idempotency-Key', detail: expect.any(String) }]);
  });
});

describe('GET /exchanges/:id', () => {
  it('answers 404 for an unknown or impossible id', async () => {
    await expectProblem(await call(`/exchanges/${uniqueId('ex')}`), 404);
    await expectProblem(await call('/exchanges/not%20an%20id'), 404);
  });
});

describe('GET /exchanges', () => {
  it("pages a trainer's exchanges on either side, newest first", async () => {
    const { trainerA, trainerB, pokemonsA } = await setUp(3, 0);
    const other = await createTrainer();
    const made: Exchange[] = [];
    // A gives to B, B gives back, A gives to a third trainer: A is on both sides.
    for (const body of [
      { trainerA, trainerB, pokemonsA: [pokemonsA[0]], pokemonsB: [] },
      { trainerA: trainerB, trainerB: trainerA, pokemonsA: [pokemonsA[0]], pokemonsB: [] },
      { trainerA, trainerB: other.id, pokemonsA: [pokemonsA[1]], pokemonsB: [] },
    ]) {
      const response = await postExchange(body);
      expect(response.status).toBe(201);
      made.push((await response.json()) as Exchange);
    }
    const seen: Exchange[] = [];
    let cursor: string | null = null;
    do {
      const response = await call(`/exchanges?trainer=${trainerA}&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(roundTrips(response)).toEqual(expectedTrips({ reads: 1 }));
      const page = (await response.json()) as { data: Exchange[]; nextCursor: string | null };
      seen.push(...page.data);
      cursor = page.nextCursor;
    } while (cursor);
    const [first, second, third] = made;
    expect(seen).toEqual([third, second, first]);

    const forB = (await (await call(`/exchanges?trainer=${trainerB}`)).json()) as { data: Exchange[] };
    expect(forB.data.map((e) => e.id)).toEqual([second!.id, first!.id]);
  });

  it('lists every exchange newest first without a trainer', async () => {
    const body = await setUp(1, 0);
    const created = (await (await postExchange(body)).json()) as Exchange;
    const page = (await (await call('/exchanges?limit=100')).json()) as { data: Exchange[] };
    expect(page.data.map((e) => e.id)).toContain(created.id);
    const times = page.data.map((e) => e.createdAt);
    expect(times).toEqual([...times].sort().reverse());
  });

  it('refuses a bad cursor, limit or trainer with 422', async () => {
    for (const query of ['cursor=nope', 'limit=0', 'trainer=bad%20id']) {
      await expectProblem(await call(`/exchanges?${query}`), 422);
    }
  });
});
