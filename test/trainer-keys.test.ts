/**
 * Trainer-bound keys: issuing them, what they may do (generated from the app's route table, so a
 * new route cannot forget the rule), ownership checked in the statements, and revocation when
 * the trainer is deleted.
 */
import { neon, neonConfig } from '@neondatabase/serverless';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import app from '../src/index.ts';
import { requiredScope } from '../src/http/auth.ts';
import { trainerMayCall, trainerRefusal } from '../src/http/trainer-access.ts';
import { call, callWithBindings, expectedTrips, expectProblem, roundTrips } from './support/api.ts';
import { historyOf, ownerOf } from './support/exchanges.ts';
import { createPokemon, createTrainer, uniqueId } from './support/fixtures.ts';
import { createKey } from './support/keys.ts';
import { trainerWithKey } from './support/offers.ts';

const bindings = inject('bindings');
beforeAll(() => {
  neonConfig.fetchEndpoint = bindings.NEON_FETCH_ENDPOINT;
});

/** Every route that needs a key and that a trainer key may not use at all, path parameters filled in. */
const REFUSED = app.routes
  .filter((route) => route.method !== 'ALL' && requiredScope(route.method, route.path, true) !== undefined && !trainerMayCall(route.method, route.path))
  .map((route) => ({ method: route.method, path: route.path.replace(/:[^/]+/g, 'x-1') }));

describe('POST /keys with the trainer scope', () => {
  it('issues a key bound to a trainer, shown in the key', async () => {
    const trainer = await createTrainer();
    const created = await createKey({ scopes: ['trainer'], trainer: trainer.id });
    expect(created).toMatchObject({ scopes: ['trainer'], trainer: trainer.id });
    expect(await (await call(`/keys/${created.id}`)).json()).toMatchObject({ trainer: trainer.id });
    expect((await createKey({ scopes: ['write'] })).trainer).toBeNull();
  });

  it('refuses the scope without a trainer, a trainer without the scope, other scopes with it, and an unknown trainer (422)', async () => {
    const trainer = await createTrainer();
    for (const [body, pointer] of [
      [{ name: 'x', scopes: ['trainer'] }, '/trainer'],
      [{ name: 'x', scopes: ['write'], trainer: trainer.id }, '/trainer'],
      [{ name: 'x', scopes: ['trainer', 'write'], trainer: trainer.id }, '/scopes'],
      [{ name: 'x', scopes: ['trainer'], trainer: uniqueId('ghost') }, '/trainer'],
    ] as const) {
      const problem = await expectProblem(await call('/keys', { method: 'POST', json: body }), 422);
      expect(problem.errors.map((error: { pointer: string }) => error.pointer), JSON.stringify(body)).toEqual([pointer]);
    }
  });
});

describe('a trainer key', () => {
  it('is in the generated list for the routes it must not use', () => {
    expect(REFUSED.map(({ method, path }) => `${method} ${path}`)).toEqual(
      expect.arrayContaining(['POST /exchanges', 'POST /trainers', 'DELETE /trainers/x-1', 'POST /uploads', 'POST /uploads/x-1/commit', 'POST /keys', 'GET /keys', 'DELETE /keys/x-1']),
    );
    expect(REFUSED.map(({ method, path }) => `${method} ${path}`)).not.toContain('POST /offers');
  });

  it('is refused every route it must not use: 403 saying why, with no database round trip', async () => {
    const { key, id } = await trainerWithKey();
    await call('/species/pikachu', { key }); // verified once; then every refusal is decided in the Worker
    for (const { method, path } of REFUSED) {
      const response = await call(path, { method, key, json: method === 'GET' ? undefined : {} });
      const problem = await expectProblem(response, 403);
      expect(problem, `${method} ${path}`).toMatchObject({ type: '/problems/forbidden', trainer: id, requiredScope: expect.any(String) });
      expect(roundTrips(response).db, `${method} ${path}`).toBe(0);
      if (path === '/exchanges') expect(problem.detail).toMatch(/POST \/offers/);
      if (path.startsWith('/uploads')) expect(problem.detail).toMatch(/write keys/);
      if (path.startsWith('/keys')) expect(problem.detail).toMatch(/admin/);
    }
  });

  it('reads everything anonymous clients can, also with PUBLIC_READS=false', async () => {
    const { key, id, pokemon } = await trainerWithKey(1);
    for (const path of [`/trainers/${id}`, '/trainers', `/pokemon/${pokemon[0]}`, `/pokemon/${pokemon[0]}/history`, '/exchanges', '/species/pikachu']) {
      expect((await call(path, { key })).status, path).toBe(200);
      expect((await callWithBindings({ PUBLIC_READS: 'false' }, path, { key })).status, path).toBe(200);
    }
  });

  it('changes its own trainer only', async () => {
    const { key, id } = await trainerWithKey();
    const other = await createTrainer();
    const own = await call(`/trainers/${id}`, { method: 'PATCH', key, json: { firstName: 'Ashton' } });
    expect(own.status).toBe(200);
    const problem = await expectProblem(await call(`/trainers/${other.id}`, { method: 'PATCH', key, json: { firstName: 'Mallory' } }), 403);
    expect(problem.detail).toContain(other.id);
    expect(((await (await call(`/trainers/${other.id}`)).json()) as { firstName: string }).firstName).toBe(other.firstName);
  });

  it('creates Pokémon only for itself', async () => {
    const { key, id } = await trainerWithKey();
    const other = await createTrainer();
    const body = (owner: string) => ({ id: uniqueId('p'), nickname: 'N', species: 'eevee', level: 3, owner, dateOfOwnership: '2020-01-01' });
    expect((await call('/pokemon', { method: 'POST', key, json: body(id) })).status).toBe(201);
    const refused = body(other.id);
    await expectProblem(await call('/pokemon', { method: 'POST', key, json: refused }), 403);
    await expectProblem(await call(`/pokemon/${refused.id}`), 404);
  });

  it('changes and deletes only its own Pokémon, decided in one statement: 403 for another’s (unchanged), 404 for none', async () => {
    const { key, pokemon } = await trainerWithKey(2);
    const other = await createTrainer();
    const theirs = await createPokemon(other.id, { level: 9 });
    await call('/species/pikachu', { key });

    const patched = await call(`/pokemon/${pokemon[0]}`, { method: 'PATCH', key, json: { level: 50 } });
    expect(patched.status).toBe(200);
    expect(roundTrips(patched)).toEqual(expectedTrips({ writes: 1, redis: 1 }));
    for (const json of [{ level: 60 }, { species: 'not-a-species' }]) {
      const refused = await call(`/pokemon/${theirs.id}`, { method: 'PATCH', key, json });
      await expectProblem(refused, 403);
      expect(roundTrips(refused)).toEqual(expectedTrips({ writes: 1, redis: 1 }));
    }
    const deleteRefused = await call(`/pokemon/${theirs.id}`, { method: 'DELETE', key });
    await expectProblem(deleteRefused, 403);
    expect(roundTrips(deleteRefused)).toEqual(expectedTrips({ writes: 1, redis: 1 }));
    expect(await (await call(`/pokemon/${theirs.id}`)).json()).toMatchObject({ level: 9, owner: other.id });
    expect(await historyOf(theirs.id)).toHaveLength(1);

    await expectProblem(await call(`/pokemon/${uniqueId('ghost')}`, { method: 'PATCH', key, json: { level: 2 } }), 404);
    await expectProblem(await call(`/pokemon/${uniqueId('ghost')}`, { method: 'DELETE', key }), 404);
    // Its own: an unknown species is still a 422; deleting works.
    await expectProblem(await call(`/pokemon/${pokemon[1]}`, { method: 'PATCH', key, json: { species: 'pikachoo' } }), 422);
    expect((await call(`/pokemon/${pokemon[1]}`, { method: 'DELETE', key })).status).toBe(204);
    expect(await ownerOf(pokemon[0]!)).toBeDefined();
  });
});

describe('the refusal a trainer key gets', () => {
  it('reads HEAD as GET and ignores a trailing slash', () => {
    expect(trainerRefusal('HEAD', '/offers', 'ash')).toBeUndefined();
    expect(trainerRefusal('PATCH', '/trainers/ash/', 'ash')).toBeUndefined();
    expect(trainerRefusal('PATCH', '/trainers/misty/', 'ash')).toBe('A trainer key acts only for its own trainer ("ash"), not for "misty".');
  });

  it('says why a route is refused, or that the key acts only for its own trainer', () => {
    expect(trainerRefusal('POST', '/uploads/', 'ash')).toBe('Uploads are for write keys: a trainer key acts only for its own trainer.');
    expect(trainerRefusal('PUT', '/species/25', 'ash')).toBe('A trainer key may not PUT /species/25: it acts only for its own trainer, its Pokémon and its offers.');
  });
});

describe('deleting the trainer', () => {
  it('revokes its keys in the delete statement, for good: a trainer recreated with the id does not revive them', async () => {
    const { key, id } = await trainerWithKey();
    const listed = ((await (await call('/keys?limit=100')).json()) as { data: { id: string; trainer: string | null }[] }).data.find((k) => k.trainer === id)!;
    expect((await call(`/trainers/${id}`, { method: 'DELETE' })).status).toBe(204);
    // The key row lost its trainer in the same statement (the foreign key's ON DELETE SET NULL).
    const sql = neon(bindings.DATABASE_URL);
    const [row] = (await sql`SELECT trainer_id, scopes FROM api_keys WHERE id = ${listed.id}`) as { trainer_id: string | null; scopes: string[] }[];
    expect(row).toEqual({ trainer_id: null, scopes: ['trainer'] });
    expect((await expectProblem(await call('/offers', { key }), 401)).detail).toMatch(/revoked.*trainer was deleted/);
    await createTrainer({ id });
    expect((await expectProblem(await call('/offers', { key }), 401)).detail).toMatch(/revoked/);
    await expectProblem(await call(`/trainers/${id}`, { method: 'PATCH', key, json: { firstName: 'Imposter' } }), 401);
  });
});
