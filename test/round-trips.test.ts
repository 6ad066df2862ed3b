/**
 * Every route makes exactly one database round trip (and none to Redis), on success and on its
 * common failure, as `Server-Timing` reports: reads on the replica when there is one, writes on
 * the primary.
 */
import { describe, expect, it } from 'vitest';
import { call, expectedTrips, roundTrips } from './support/api.ts';
import { createPokemon, createTrainer, uniqueId } from './support/fixtures.ts';

describe('one database round trip per request', () => {
  it('holds for every trainer, Pokémon and species route', async () => {
    const trainer = await createTrainer();
    const other = await createTrainer();
    const pokemon = await createPokemon(trainer.id);
    const doomed = await createPokemon(trainer.id);
    const requests: [method: string, path: string, status: number, json?: unknown][] = [
      ['GET', '/trainers', 200],
      ['GET', `/trainers?q=ash&limit=5`, 200],
      ['GET', `/trainers/${trainer.id}`, 200],
      ['GET', `/trainers/${uniqueId('ghost')}`, 404],
      ['PATCH', `/trainers/${trainer.id}`, 200, { firstName: 'Ashton' }],
      ['GET', `/trainers/${trainer.id}/pokemon`, 200],
      ['GET', `/trainers/${uniqueId('ghost')}/pokemon`, 404],
      ['DELETE', `/trainers/${trainer.id}`, 409],
      ['DELETE', `/trainers/${other.id}`, 204],
      ['POST', '/pokemon', 422, { id: uniqueId('p'), nickname: 'N', species: 'Pikachoo', level: 3, owner: trainer.id, dateOfOwnership: '2020-01-01' }],
      ['GET', '/pokemon?minLevel=1&maxLevel=100&species=pikachu', 200],
      ['GET', `/pokemon/${pokemon.id}`, 200],
      ['GET', `/pokemon/${uniqueId('ghost')}`, 404],
      ['PATCH', `/pokemon/${pokemon.id}`, 200, { level: 77 }],
      ['GET', `/pokemon/${pokemon.id}/history`, 200],
      ['DELETE', `/pokemon/${doomed.id}`, 204],
      ['GET', '/species?type=fire', 200],
      ['GET', '/species/pikachu', 200],
      ['GET', '/exchanges', 200],
    ];
    for (const [method, path, status, json] of requests) {
      const response = await call(path, { method, json });
      expect(response.status, `${method} ${path}`).toBe(status);
      const expected = method === 'GET' ? expectedTrips({ reads: 1 }) : expectedTrips({ writes: 1 });
      expect(roundTrips(response), `${method} ${path}`).toEqual(expected);
    }
  });
});
