import { describe, expect, it } from 'vitest';
import { call, expectProblem, roundTrips } from './support/api.ts';
import { createTrainer, uniqueId } from './support/fixtures.ts';

describe('POST /trainers', () => {
  it('creates a trainer in one round trip and answers 201 with Location', async () => {
    const id = uniqueId('ash');
    const response = await call('/trainers', { method: 'POST', json: { id, firstName: 'Ash', lastName: 'Ketchum', dateOfBirth: '2010-05-22' } });
    expect(response.status).toBe(201);
    expect(response.headers.get('Location')).toBe(`/trainers/${id}`);
    expect(await response.json()).toMatchObject({ id, firstName: 'Ash', lastName: 'Ketchum', dateOfBirth: '2010-05-22', createdAt: expect.any(String) });
    expect(roundTrips(response)).toEqual({ db: 1, cache: 0 });
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
});
