import { describe, expect, it } from 'vitest';
import { call, callWithBindings, DEAD_URL, expectProblem, roundTrips, expectedTrips } from './support/api.ts';
import { clockPast, createPokemon, createTrainer, uniqueId } from './support/fixtures.ts';

describe('POST /trainers', () => {
  it('creates a trainer in one round trip and answers 201 with Location', async () => {
    const id = uniqueId('ash');
    const response = await call('/trainers', { method: 'POST', json: { id, firstName: 'Ash', lastName: 'Ketchum', dateOfBirth: '2010-05-22' } });
    expect(response.status).toBe(201);
    expect(response.headers.get('Location')).toBe(`/trainers/${id}`);
    expect(await response.json()).toMatchObject({ id, firstName: 'Ash', lastName: 'Ketchum', dateOfBirth: '2010-05-22', createdAt: expect.any(String) });
    expect(roundTrips(response)).toEqual(expectedTrips({ writes: 1 }));
  });

  it('refuses an existing id with 409 and does not overwrite it', async () => {
    const trainer = await createTrainer({ firstName: 'Misty' });
    const { id, lastName, dateOfBirth } = trainer;
    const response = await call('/trainers', { method: 'POST', json: { id, lastName, dateOfBirth, firstName: 'Impostor' } });
    await expectProblem(response, 409);
    const stored = (await (await call(`/trainers/${trainer.id}`)).json()) as { firstName: string };
    expect(stored.firstName).toBe('Misty');
  });

  it('lists every invalid field at once with JSON pointers', async () => {
    const response = await call('/trainers', { method: 'POST', json: { id: 'bad id!', firstName: '', dateOfBirth: '2000-02-31', extra: 1 } });
    const problem = await expectProblem(response, 422);
    const pointers = (problem.errors as { pointer: string }[]).map((e) => e.pointer).sort();
    expect(pointers).toEqual(['/dateOfBirth', '/extra', '/firstName', '/id', '/lastName']);
  });

  it('rejects future and pre-1900 birth dates', async () => {
    for (const dateOfBirth of ['2999-01-01', '1899-12-31', '20-05-2010']) {
      const response = await call('/trainers', { method: 'POST', json: { id: uniqueId('t'), firstName: 'A', lastName: 'B', dateOfBirth } });
      const problem = await expectProblem(response, 422);
      expect(problem.errors).toEqual([{ pointer: '/dateOfBirth', detail: expect.any(String) }]);
    }
  });

  it('answers malformed JSON with 400 and a non-JSON body with 415', async () => {
    await expectProblem(await call('/trainers', { method: 'POST', body: '{"id":', headers: { 'Content-Type': 'application/json' } }), 400);
    await expectProblem(await call('/trainers', { method: 'POST', body: 'id=x', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } }), 415);
  });

  it('answers a body sent without a content type with 415, and a JSON request without a body with 400', async () => {
    const untyped = await expectProblem(await call('/trainers', { method: 'POST', body: new Blob(['{}']) }), 415);
    expect(untyped.detail).toBe('Send the body as application/json.');
    const empty = await expectProblem(await call('/trainers', { method: 'POST', headers: { 'Content-Type': 'application/json' } }), 400);
    expect(empty.detail).toBe('Malformed JSON in request body');
  });
});

describe('GET /trainers/:id', () => {
  it('answers the trainer with how many Pokémon they own, in one round trip', async () => {
    const trainer = await createTrainer();
    await createPokemon(trainer.id);
    await createPokemon(trainer.id);
    const response = await call(`/trainers/${trainer.id}`);
    expect(roundTrips(response)).toEqual(expectedTrips({ reads: 1 }));
    expect(await response.json()).toMatchObject({ id: trainer.id, pokemonCount: 2 });
  });

  it('answers 404 for an unknown id and for an id that cannot exist', async () => {
    await expectProblem(await call(`/trainers/${uniqueId('ghost')}`), 404);
    await expectProblem(await call('/trainers/%00bad%20id'), 404);
  });
});

describe('PATCH /trainers/:id', () => {
  it('changes the given fields and keeps the rest', async () => {
    const trainer = await createTrainer({ firstName: 'Gary', lastName: 'Oak' });
    // Timestamps have millisecond precision: let the clock pass the creation's millisecond first,
    // so an update that did not touch updatedAt cannot look like one that did.
    await clockPast(trainer.updatedAt);
    const response = await call(`/trainers/${trainer.id}`, { method: 'PATCH', json: { lastName: 'Oak-Smith' } });
    expect(response.status).toBe(200);
    expect(roundTrips(response)).toEqual(expectedTrips({ writes: 1 }));
    const updated = (await response.json()) as { firstName: string; lastName: string; createdAt: string; updatedAt: string };
    expect(updated).toMatchObject({ firstName: 'Gary', lastName: 'Oak-Smith' });
    expect(Date.parse(updated.updatedAt)).toBeGreaterThan(Date.parse(trainer.updatedAt));
    expect(updated).toMatchObject({ createdAt: trainer.createdAt });
  });

  it('refuses to change the id, an empty change, and an unknown trainer', async () => {
    const trainer = await createTrainer();
    const immutable = await expectProblem(await call(`/trainers/${trainer.id}`, { method: 'PATCH', json: { id: 'other' } }), 422);
    expect(immutable.errors).toEqual([{ pointer: '/id', detail: expect.stringContaining('cannot change') }]);
    await expectProblem(await call(`/trainers/${trainer.id}`, { method: 'PATCH', json: {} }), 422);
    await expectProblem(await call(`/trainers/${uniqueId('ghost')}`, { method: 'PATCH', json: { firstName: 'X' } }), 404);
  });
});

describe('DELETE /trainers/:id', () => {
  it('deletes a trainer without Pokémon', async () => {
    const trainer = await createTrainer();
    const response = await call(`/trainers/${trainer.id}`, { method: 'DELETE' });
    expect(response.status).toBe(204);
    expect(roundTrips(response)).toEqual(expectedTrips({ writes: 1 }));
    await expectProblem(await call(`/trainers/${trainer.id}`), 404);
    await expectProblem(await call(`/trainers/${trainer.id}`, { method: 'DELETE' }), 404);
  });

  it('refuses while the trainer owns Pokémon, saying how many; cascade deletes them together', async () => {
    const trainer = await createTrainer();
    const owned = [await createPokemon(trainer.id), await createPokemon(trainer.id)];
    const refused = await expectProblem(await call(`/trainers/${trainer.id}`, { method: 'DELETE' }), 409);
    expect(refused.pokemonCount).toBe(2);
    expect(refused.detail).toContain('2 Pokémon');
    expect((await call(`/pokemon/${owned[0]!.id}`)).status).toBe(200);

    const response = await call(`/trainers/${trainer.id}?cascade=true`, { method: 'DELETE' });
    expect(response.status).toBe(204);
    expect(roundTrips(response)).toEqual(expectedTrips({ writes: 1 }));
    for (const p of owned) await expectProblem(await call(`/pokemon/${p.id}`), 404);
  });

  it('answers 503 with Retry-After when the database cannot be reached, and deletes nothing', async () => {
    const trainer = await createTrainer();
    const response = await callWithBindings({ NEON_FETCH_ENDPOINT: `${DEAD_URL}/sql` }, `/trainers/${trainer.id}`, { method: 'DELETE' });
    expect((await expectProblem(response, 503)).dependency).toBe('database');
    expect(response.headers.get('Retry-After')).toBeTruthy();
    expect((await call(`/trainers/${trainer.id}`)).status).toBe(200);
  });
});

describe('GET /trainers', () => {
  it('walks every page exactly once while trainers are being inserted', async () => {
    const prefix = uniqueId('walk');
    const before = await Promise.all(Array.from({ length: 15 }, (_, i) => createTrainer({ id: `${prefix}-${String(i).padStart(2, '0')}`, firstName: prefix })));
    const seen: string[] = [];
    let cursor: string | null = null;
    let inserted = 0;
    do {
      const response = await call(`/trainers?limit=4&q=${prefix}${cursor ? `&cursor=${cursor}` : ''}`);
      expect(roundTrips(response)).toEqual(expectedTrips({ reads: 1 }));
      const page = (await response.json()) as { data: { id: string }[]; nextCursor: string | null };
      seen.push(...page.data.map((t) => t.id));
      cursor = page.nextCursor;
      // Insert while walking: before the cursor (must not appear) and after it (may appear once).
      await createTrainer({ id: `${prefix}-0${inserted}x`, firstName: prefix });
      inserted += 1;
    } while (cursor);
    const expected = before.map((t) => t.id);
    expect(seen.filter((id) => expected.includes(id))).toEqual(expected);
    expect(new Set(seen).size).toBe(seen.length);
  });

  it('searches names case-insensitively and treats % and _ literally', async () => {
    const marker = uniqueId('Zq');
    const percent = await createTrainer({ firstName: `${marker}%`, lastName: 'Percent' });
    await createTrainer({ firstName: `${marker}x`, lastName: 'Other' });
    const page = (await (await call(`/trainers?q=${encodeURIComponent(`${marker.toLowerCase()}%`)}`)).json()) as { data: { id: string }[] };
    expect(page.data.map((t) => t.id)).toEqual([percent.id]);
  });

  it('rejects a bad limit or cursor with 422 naming the parameter', async () => {
    const limit = await expectProblem(await call('/trainers?limit=0'), 422);
    expect(limit.errors).toEqual([{ parameter: 'limit', detail: expect.any(String) }]);
    await expectProblem(await call('/trainers?cursor=%%%'), 422);
  });
});

describe('hostile input', () => {
  it('stores quotes, SQL, emoji and 64-character ids verbatim', async () => {
    const id = `${'x'.repeat(55)}-${crypto.randomUUID().slice(0, 8)}`;
    const firstName = `Robert'); DROP TABLE trainers;--`;
    const lastName = '"Bobby" 🐉 Tables \\ %_';
    const created = await createTrainer({ id, firstName, lastName });
    expect(created).toMatchObject({ id, firstName, lastName });
    expect(await (await call(`/trainers/${id}`)).json()).toMatchObject({ firstName, lastName });
  });

  it('rejects NUL bytes, over-long ids and non-string fields with 422, never a 500', async () => {
    const cases = [
      { id: uniqueId('t'), firstName: 'nul\u0000byte', lastName: 'X', dateOfBirth: '2000-01-01' },
      { id: 'y'.repeat(65), firstName: 'A', lastName: 'B', dateOfBirth: '2000-01-01' },
      { id: 42, firstName: ['A'], lastName: null, dateOfBirth: 20000101 },
    ];
    for (const json of cases) await expectProblem(await call('/trainers', { method: 'POST', json }), 422);
  });
});

describe('oversized bodies', () => {
  it('refuses a JSON body over 64 KiB with 413', async () => {
    const json = { id: uniqueId('big'), firstName: 'x'.repeat(70 * 1024), lastName: 'B', dateOfBirth: '2000-01-01' };
    await expectProblem(await call('/trainers', { method: 'POST', json }), 413);
  });

  it('refuses at once a JSON body declared larger than it would read to drop, without waiting for it', async () => {
    // A body that never ends: only the declared length can answer it.
    const body = new ReadableStream<Uint8Array>({ start: (controller) => controller.enqueue(new TextEncoder().encode('{"id":')) });
    const headers = { 'Content-Type': 'application/json', 'Content-Length': String(9 * 1024 * 1024) };
    const problem = await expectProblem(await call('/trainers', { method: 'POST', body, headers }), 413);
    expect(problem.detail).toBe('JSON bodies are limited to 64 KiB.');
  });
});

describe('input the database would refuse', () => {
  const cursorFor = (after: unknown) => btoa(JSON.stringify({ after })).replaceAll('=', '');

  it('answers 422, never 500, for NUL bytes, lone surrogates and forged cursors', async () => {
    const requests: [string, RequestInit & { json?: unknown }][] = [
      ['/trainers?q=%00', {}],
      ['/species?type=%00', {}],
      [`/trainers?cursor=${cursorFor('\u0000')}`, {}],
      [`/pokemon?cursor=${cursorFor('x'.repeat(65))}`, {}],
      [`/species?cursor=${cursorFor(1.5)}`, {}],
      [`/species?cursor=${cursorFor(2 ** 31)}`, {}],
      [`/exchanges?cursor=${cursorFor('no-such-exchange')}`, {}],
      ['/trainers', { method: 'POST', json: { id: uniqueId('t'), firstName: '\ud800', lastName: 'B', dateOfBirth: '2000-01-01' } }],
    ];
    for (const [path, init] of requests) {
      const response = await call(path, init);
      expect(response.status, path).toBe(422);
      await expectProblem(response, 422);
    }
  });
});
