import { describe, expect, it } from 'vitest';
import { call, expectedTrips, expectProblem, roundTrips } from './support/api.ts';

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
