/**
 * Errors people can read: every 422 names each field and the rule it broke in words of this
 * API (never zod's), counts them in grammatical English, reports database checks together
 * with field checks, and refuses query parameters a route does not take.
 */
import { describe, expect, it } from 'vitest';
import { call, expectProblem } from './support/api.ts';
import { createTrainer, uniqueId } from './support/fixtures.ts';

type FieldError = { pointer?: string; parameter?: string; detail: string; suggestions?: string[] };

/** No zod wording ("Invalid input: expected string, received undefined") in any detail. */
function expectOwnWords(problem: Record<string, any>) {
  for (const text of [problem.detail, ...(problem.errors as FieldError[]).map((e) => e.detail)]) {
    expect(text).not.toMatch(/Invalid input|expected \w+, received|Too (small|big)|Unrecognized key/i);
    expect(text, 'a sentence').toMatch(/^\S.*\.$|\?$/);
  }
}

describe('validation errors', () => {
  it('names every missing and mistyped field in a sentence, and counts them grammatically', async () => {
    const problem = await expectProblem(await call('/pokemon', { method: 'POST', json: { nickname: 42, level: 'high' } }), 422);
    expectOwnWords(problem);
    const byPointer = Object.fromEntries((problem.errors as FieldError[]).map((e) => [e.pointer, e.detail]));
    expect(byPointer).toEqual({
      '/id': 'id is required.',
      '/nickname': 'nickname must be text (a JSON string), not a number.',
      '/species': 'species is required.',
      '/level': 'level must be a whole number from 1 to 100.',
      '/owner': 'owner is required.',
      '/dateOfOwnership': 'dateOfOwnership is required.',
    });
    expect(problem.detail).toBe('The request body has 6 invalid fields: id, nickname, species, level, owner and dateOfOwnership.');

    const one = await expectProblem(await call('/trainers', { method: 'POST', json: { id: 'x', firstName: 'A', lastName: 'B', dateOfBirth: '2100-01-01' } }), 422);
    expect(one.detail).toBe('The request body has 1 invalid field: dateOfBirth.');
    expect(one.errors).toEqual([{ pointer: '/dateOfBirth', detail: 'dateOfBirth must not be in the future.' }]);
  });

  it('names unknown body fields and lists the known ones', async () => {
    const problem = await expectProblem(await call('/trainers', { method: 'POST', json: { id: 'x', firstName: 'A', lastName: 'B', dateOfBirth: '2000-01-01', age: 9 } }), 422);
    expect(problem.errors).toEqual([{ pointer: '/age', detail: 'age is not a known field; the fields are id, firstName, lastName and dateOfBirth.' }]);
    const empty = await expectProblem(await call('/trainers/x', { method: 'PATCH', json: {} }), 422);
    expect(empty.errors).toEqual([{ pointer: '/', detail: 'The request body must contain at least one of firstName, lastName and dateOfBirth.' }]);
    expect(empty.detail).toBe('The request body must contain at least one of firstName, lastName and dateOfBirth.');
  });

  it('reports an unknown owner and species together with a bad level, in one 422', async () => {
    const body = { id: uniqueId('pokemon'), nickname: 'Sparky', species: 'pikchu', level: 0, owner: uniqueId('ghost'), dateOfOwnership: '2020-01-01' };
    const problem = await expectProblem(await call('/pokemon', { method: 'POST', json: body }), 422);
    expectOwnWords(problem);
    expect(problem.errors).toEqual([
      { pointer: '/level', detail: 'level must be a whole number from 1 to 100.' },
      { pointer: '/owner', detail: `owner must be an existing trainer; there is no "${body.owner}".` },
      { pointer: '/species', detail: expect.stringContaining('did you mean Pikachu'), suggestions: expect.arrayContaining(['Pikachu']) },
    ]);
    // Nothing was written.
    expect((await call(`/pokemon/${body.id}`)).status).toBe(404);

    // A PATCH with a bad level learns about its unknown species too.
    const trainer = await createTrainer();
    const created = await call('/pokemon', { method: 'POST', json: { ...body, species: 'Pikachu', level: 5, owner: trainer.id } });
    expect(created.status).toBe(201);
    const patch = await expectProblem(await call(`/pokemon/${body.id}`, { method: 'PATCH', json: { level: 101, species: 'bulbsaur' } }), 422);
    expect(patch.errors.map((e: FieldError) => e.pointer)).toEqual(['/level', '/species']);
    expect(patch.errors[1].suggestions).toContain('Bulbasaur');
  });

  it('refuses query parameters a route does not declare, on every route, naming them', async () => {
    const list = await expectProblem(await call('/pokemon?limit=5&colour=red&shiny=1'), 422);
    expectOwnWords(list);
    expect(list.detail).toBe('2 query parameters are invalid: colour and shiny.');
    expect(list.errors).toEqual([
      { parameter: 'colour', detail: 'colour is not a query parameter of this route; it takes limit, cursor, owner, species, minLevel and maxLevel.' },
      { parameter: 'shiny', detail: 'shiny is not a query parameter of this route; it takes limit, cursor, owner, species, minLevel and maxLevel.' },
    ]);
    // A route that declares no query takes none.
    const single = await expectProblem(await call('/species/25?verbose=true'), 422);
    expect(single.errors).toEqual([{ parameter: 'verbose', detail: 'verbose is not a query parameter; this route takes none.' }]);
    // Unknown parameters are reported with the bad values of known ones.
    const both = await expectProblem(await call('/trainers?limit=0&sort=name'), 422);
    expect(both.errors.map((e: FieldError) => e.parameter).sort()).toEqual(['limit', 'sort']);
  });

  it('refuses a single-valued query parameter sent twice', async () => {
    const problem = await expectProblem(await call('/trainers?limit=1&limit=2'), 422);
    expect(problem.detail).toBe('A query parameter is invalid: limit.');
    expect(problem.errors).toEqual([{ parameter: 'limit', detail: 'limit must be sent once, not 2 times.' }]);
    const cascade = await expectProblem(await call('/trainers/x?cascade=true&cascade=false', { method: 'DELETE' }), 422);
    expect(cascade.errors).toEqual([{ parameter: 'cascade', detail: 'cascade must be sent once, not 2 times.' }]);
  });

  it('spells a header one way in every answer', async () => {
    // Headers are checked before the body, whatever it holds.
    const problem = await expectProblem(await call('/exchanges', { method: 'POST', json: {}, headers: { 'idempotency-key': 'x'.repeat(300) } }), 422);
    expect(problem.detail).toBe('A header is invalid: Idempotency-Key.');
    expect(problem.errors).toEqual([{ parameter: 'Idempotency-Key', detail: expect.stringMatching(/^Idempotency-Key must /) }]);
  });
});
