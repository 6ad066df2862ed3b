import { neon, neonConfig } from '@neondatabase/serverless';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { call, expectProblem, roundTrips, expectedTrips } from './support/api.ts';
import { postExchange } from './support/exchanges.ts';
import { createPokemon, createTrainer, uniqueId } from './support/fixtures.ts';

/** The primary database itself, through the real Neon client, to read what the API does not show. */
const { DATABASE_URL, NEON_FETCH_ENDPOINT } = inject('bindings');
const sql = neon(DATABASE_URL);
beforeAll(() => {
  neonConfig.fetchEndpoint = NEON_FETCH_ENDPOINT;
});

/** How many `ownership_history` rows the database holds for `pokemonId`. */
async function historyRows(pokemonId: string): Promise<number> {
  const [row] = await sql`SELECT count(*)::int AS n FROM ownership_history WHERE pokemon_id = ${pokemonId}`;
  return row!.n as number;
}

describe('POST /pokemon', () => {
  it('creates a Pokémon with its canonical species and first history entry, in one round trip', async () => {
    const trainer = await createTrainer();
    const id = uniqueId('pika');
    const response = await call('/pokemon', {
      method: 'POST',
      json: { id, nickname: 'Sparky', species: 'PIKACHU', level: 12, owner: trainer.id, dateOfOwnership: '2021-03-04' },
    });
    expect(response.status).toBe(201);
    expect(response.headers.get('Location')).toBe(`/pokemon/${id}`);
    expect(roundTrips(response)).toEqual(expectedTrips({ writes: 1 }));
    expect(await response.json()).toMatchObject({
      id,
      nickname: 'Sparky',
      species: { dexNumber: 25, name: 'Pikachu', types: ['Electric'] },
      level: 12,
      owner: trainer.id,
      dateOfOwnership: '2021-03-04',
    });
    const history = await (await call(`/pokemon/${id}/history`)).json();
    expect(history).toEqual({
      data: [{ trainer: trainer.id, acquiredOn: '2021-03-04', source: 'created', exchangeId: null, recordedAt: expect.any(String) }],
    });
  });

  it('matches species ignoring case and punctuation', async () => {
    const trainer = await createTrainer();
    const created = await createPokemon(trainer.id, { species: 'mr mime' });
    expect(created.species).toEqual({ dexNumber: 122, name: 'Mr. Mime', types: ['Psychic', 'Fairy'] });
  });

  it('names an unknown owner and an unknown species, with suggestions', async () => {
    const response = await call('/pokemon', {
      method: 'POST',
      json: { id: uniqueId('p'), nickname: 'X', species: 'Pikachoo', level: 5, owner: uniqueId('ghost'), dateOfOwnership: '2020-01-01' },
    });
    const problem = await expectProblem(response, 422);
    expect(problem.errors).toEqual([
      { pointer: '/owner', detail: expect.stringContaining('there is no') },
      { pointer: '/species', detail: expect.stringContaining('did you mean Pikachu'), suggestions: expect.arrayContaining(['Pikachu']) },
    ]);
  });

  it('checks the owner alone when the species is missing, and the species alone when the owner exists', async () => {
    const ghost = uniqueId('ghost');
    const ownerOnly = await expectProblem(await call('/pokemon', { method: 'POST', json: { id: uniqueId('p'), nickname: 'X', level: 5, owner: ghost, dateOfOwnership: '2020-01-01' } }), 422);
    expect(ownerOnly.errors).toEqual([
      { pointer: '/species', detail: 'species is required.' },
      { pointer: '/owner', detail: expect.stringContaining(`"${ghost}"`) },
    ]);
    const trainer = await createTrainer();
    const speciesOnly = await expectProblem(await call('/pokemon', { method: 'POST', json: { id: uniqueId('p'), nickname: 'X', species: 'Eevve', level: 500, owner: trainer.id, dateOfOwnership: '2020-01-01' } }), 422);
    expect(speciesOnly.errors).toEqual([
      { pointer: '/level', detail: 'level must be a whole number from 1 to 100.' },
      { pointer: '/species', detail: expect.stringContaining('Eevee'), suggestions: expect.arrayContaining(['Eevee']) },
    ]);
  });

  it('refuses an existing id with 409 and leaves it unchanged', async () => {
    const trainer = await createTrainer();
    const existing = await createPokemon(trainer.id, { nickname: 'Original' });
    const response = await call('/pokemon', {
      method: 'POST',
      json: { id: existing.id, nickname: 'Impostor', species: 'Eevee', level: 9, owner: trainer.id, dateOfOwnership: '2020-01-01' },
    });
    await expectProblem(response, 409);
    expect(((await (await call(`/pokemon/${existing.id}`)).json()) as { nickname: string }).nickname).toBe('Original');
  });
});

describe('PATCH /pokemon/:id', () => {
  it('changes nickname, level and species in one round trip', async () => {
    const trainer = await createTrainer();
    const created = await createPokemon(trainer.id);
    const response = await call(`/pokemon/${created.id}`, { method: 'PATCH', json: { nickname: 'Bolt', level: 30, species: 'raichu' } });
    expect(response.status).toBe(200);
    expect(roundTrips(response)).toEqual(expectedTrips({ writes: 1 }));
    expect(await response.json()).toMatchObject({ nickname: 'Bolt', level: 30, species: { name: 'Raichu' }, owner: trainer.id });
  });

  it('refuses to change the owner, pointing to exchanges', async () => {
    const trainer = await createTrainer();
    const created = await createPokemon(trainer.id);
    const problem = await expectProblem(await call(`/pokemon/${created.id}`, { method: 'PATCH', json: { owner: 'someone' } }), 422);
    expect(problem.errors).toEqual([{ pointer: '/owner', detail: expect.stringContaining('/exchanges') }]);
  });

  it('answers 404 for an unknown Pokémon and 422 for an unknown species', async () => {
    await expectProblem(await call(`/pokemon/${uniqueId('none')}`, { method: 'PATCH', json: { level: 3 } }), 404);
    const trainer = await createTrainer();
    const created = await createPokemon(trainer.id);
    const problem = await expectProblem(await call(`/pokemon/${created.id}`, { method: 'PATCH', json: { species: 'Charmandr' } }), 422);
    expect(problem.errors[0].suggestions).toContain('Charmander');
  });
});

describe('lists', () => {
  it('filters by owner, species and level', async () => {
    const trainer = await createTrainer();
    await createPokemon(trainer.id, { species: 'Bulbasaur', level: 5 });
    await createPokemon(trainer.id, { species: 'Bulbasaur', level: 50 });
    await createPokemon(trainer.id, { species: 'Squirtle', level: 50 });
    const response = await call(`/pokemon?owner=${trainer.id}&species=bulbasaur&minLevel=10`);
    const page = (await response.json()) as { data: { level: number; species: { name: string } }[]; nextCursor: string | null };
    expect(page.data.map((p) => [p.species.name, p.level])).toEqual([['Bulbasaur', 50]]);
    expect(page.nextCursor).toBeNull();
  });

  it("lists a trainer's Pokémon, and 404 for an unknown trainer", async () => {
    const trainer = await createTrainer();
    const a = await createPokemon(trainer.id, { id: `${trainer.id}-a` });
    const b = await createPokemon(trainer.id, { id: `${trainer.id}-b` });
    const response = await call(`/trainers/${trainer.id}/pokemon?limit=1`);
    expect(roundTrips(response)).toEqual(expectedTrips({ reads: 1 }));
    const first = (await response.json()) as { data: { id: string }[]; nextCursor: string };
    expect(first.data.map((p) => p.id)).toEqual([a.id]);
    const second = (await (await call(`/trainers/${trainer.id}/pokemon?limit=1&cursor=${first.nextCursor}`)).json()) as { data: { id: string }[]; nextCursor: null };
    expect(second).toEqual({ data: [expect.objectContaining({ id: b.id })], nextCursor: null });
    await expectProblem(await call(`/trainers/${uniqueId('ghost')}/pokemon`), 404);
    const empty = await createTrainer();
    expect(await (await call(`/trainers/${empty.id}/pokemon`)).json()).toEqual({ data: [], nextCursor: null });
  });
});

describe('DELETE /pokemon/:id', () => {
  it('deletes it and its history; a second delete is 404', async () => {
    const trainer = await createTrainer();
    const friend = await createTrainer();
    const created = await createPokemon(trainer.id);
    // A gift gives it a second history entry.
    expect((await postExchange({ trainerA: trainer.id, trainerB: friend.id, pokemonsA: [created.id], pokemonsB: [] })).status).toBe(201);
    expect(await historyRows(created.id)).toBe(2);

    expect((await call(`/pokemon/${created.id}`, { method: 'DELETE' })).status).toBe(204);
    await expectProblem(await call(`/pokemon/${created.id}`), 404);
    // Read in the table itself: GET /pokemon/:id/history answers 404 for a deleted Pokémon whatever its rows.
    expect(await historyRows(created.id)).toBe(0);
    await expectProblem(await call(`/pokemon/${created.id}`, { method: 'DELETE' }), 404);
  });
});
