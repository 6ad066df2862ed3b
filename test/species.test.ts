import { describe, expect, it } from 'vitest';
import { call, expectedTrips, expectProblem, roundTrips } from './support/api.ts';
import { POKEMON_TYPES } from '../src/domain/species.ts';
import { createPokemon, createTrainer, uniqueId } from './support/fixtures.ts';

type Species = { dexNumber: number; name: string; types: string[] };
type Page = { data: Species[]; nextCursor: string | null };

describe('species', () => {
  it('holds the whole national Pokédex, walkable page by page', async () => {
    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const response = await call(`/species?limit=100${cursor ? `&cursor=${cursor}` : ''}`);
      expect(roundTrips(response)).toEqual(expectedTrips({ reads: 1 }));
      const page = (await response.json()) as Page;
      seen.push(...page.data.map((s) => s.dexNumber));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual(Array.from({ length: 1025 }, (_, i) => i + 1));
  });

  it('finds a species by number or by name, ignoring case and punctuation', async () => {
    expect(await (await call('/species/25')).json()).toEqual({ dexNumber: 25, name: 'Pikachu', types: ['Electric'] });
    expect(await (await call('/species/FARFETCHD')).json()).toMatchObject({ dexNumber: 83, name: 'Farfetch’d' });
    await expectProblem(await call('/species/9999'), 404);
    await expectProblem(await call('/species/notamon'), 404);
  });

  it('filters by name fragment and type', async () => {
    const page = (await (await call('/species?q=saur&type=grass')).json()) as Page;
    expect(page.data.map((s) => s.name)).toEqual(['Bulbasaur', 'Ivysaur', 'Venusaur']);
  });

  it('rejects a cursor it did not issue and an out-of-range limit', async () => {
    const bad = await expectProblem(await call('/species?cursor=garbage'), 422);
    expect(bad.errors).toEqual([{ parameter: 'cursor', detail: expect.any(String) }]);
    const limit = await expectProblem(await call('/species?limit=101'), 422);
    expect(limit.errors).toEqual([{ parameter: 'limit', detail: expect.any(String) }]);
  });
});

describe('species everywhere alike', () => {
  it('takes a dex number (25 or "25") or a name wherever a species is named', async () => {
    const trainer = await createTrainer();
    const byNumber = await createPokemon(trainer.id, { species: 25 });
    expect(byNumber.species).toMatchObject({ dexNumber: 25, name: 'Pikachu' });
    const byText = await createPokemon(trainer.id, { species: '25' });
    expect(byText.species).toMatchObject({ dexNumber: 25 });
    const changed = await call(`/pokemon/${byText.id}`, { method: 'PATCH', json: { species: 1 } });
    expect(((await changed.json()) as { species: Species }).species).toMatchObject({ dexNumber: 1, name: 'Bulbasaur' });
    const filtered = (await (await call(`/pokemon?owner=${trainer.id}&species=25`)).json()) as { data: { id: string }[] };
    expect(filtered.data.map((p) => p.id)).toEqual([byNumber.id]);
    // A CSV cell too.
    const csv = `id,nickname,species,level,owner,dateOfOwnership\n${uniqueId('csv')},Zap,025,5,${trainer.id},2020-01-01`;
    const staged = await call('/uploads?type=pokemon&commit=true', { method: 'POST', body: csv, headers: { 'Content-Type': 'text/csv' } });
    expect(staged.status, await staged.clone().text()).toBe(201);
    expect(((await staged.json()) as { preview: { species: string }[] }).preview[0]!.species).toBe('Pikachu');
  });

  it('answers every unknown species with up to three suggestions', async () => {
    const trainer = await createTrainer();
    const create = await expectProblem(await call('/pokemon', { method: 'POST', json: { id: uniqueId('p'), nickname: 'N', species: 'charmandr', level: 5, owner: trainer.id, dateOfOwnership: '2020-01-01' } }), 422);
    expect(create.errors[0]).toMatchObject({ pointer: '/species', suggestions: expect.arrayContaining(['Charmander']) });
    const filter = await expectProblem(await call('/pokemon?species=pikchu'), 422);
    expect(filter.errors).toEqual([{ parameter: 'species', detail: expect.stringContaining('did you mean Pikachu'), suggestions: expect.arrayContaining(['Pikachu']) }]);
    expect(filter.errors[0].suggestions.length).toBeLessThanOrEqual(3);
    // A known species nobody has is an empty page, not an error.
    expect((await call(`/pokemon?owner=${trainer.id}&species=mew`)).status).toBe(200);
    const one = await expectProblem(await call('/species/pikchu'), 404);
    expect(one).toMatchObject({ detail: 'The species "pikchu" is not in the national Pokédex; did you mean Pikachu, Pichu or Raichu?', suggestions: ['Pikachu', 'Pichu', 'Raichu'] });
    expect((await expectProblem(await call('/species/9999'), 404)).suggestions).toEqual([]);
    const csv = `id,nickname,species,level,owner,dateOfOwnership\n${uniqueId('csv')},Zap,Bulbsaur,5,${trainer.id},2020-01-01`;
    const rows = await expectProblem(await call('/uploads?type=pokemon', { method: 'POST', body: csv, headers: { 'Content-Type': 'text/csv' } }), 422);
    expect(rows.errors).toEqual([{ line: 2, column: 'species', value: 'Bulbsaur', detail: expect.stringContaining('did you mean Bulbasaur') }]);
  });

  it('refuses an unknown ?type= listing the types, which are those of the Pokédex', async () => {
    const problem = await expectProblem(await call('/species?type=plasma'), 422);
    expect(problem.errors).toEqual([{ parameter: 'type', detail: `type must be one of ${POKEMON_TYPES.slice(0, -1).map((t) => `"${t}"`).join(', ')} or "Water".` }]);
    const seen = new Set<string>();
    for (let cursor: string | null = ''; cursor !== null; ) {
      const page = (await (await call(`/species?limit=100${cursor ? `&cursor=${cursor}` : ''}`)).json()) as Page;
      for (const s of page.data) for (const t of s.types) seen.add(t);
      cursor = page.nextCursor;
    }
    expect([...seen].sort()).toEqual([...POKEMON_TYPES]);
    expect((await (await call('/species?type=FIRE&limit=1')).json()) as Page).toMatchObject({ data: [{ name: 'Charmander' }] });
  });
});
