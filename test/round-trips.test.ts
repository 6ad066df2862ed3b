/**
 * Every route makes exactly one database round trip (and none to the cache), on success and on
 * its common failure, as `Server-Timing` reports.
 */
import { describe, expect, it } from 'vitest';
import { call, roundTrips } from './support/api.ts';
import { createPokemon, createTrainer, uniqueId } from './support/fixtures.ts';

describe('one database round trip per request', () => {
  it('holds for every trainer, Pokémon and species route', async () => {
    const trainer = await createTrainer();
    const other = await createTrainer();
    const pokemon = await createPokemon(trainer.id);
    const doomed = await createPokemon(trainer.id);
    const requests: [string, string, unknown?][] = [
      ['GET', '/trainers'],
      ['GET', `/trainers?q=ash&limit=5`],
      ['GET', `/trainers/${trainer.id}`],
      ['GET', `/trainers/${uniqueId('ghost')}`],
      ['PATCH', `/trainers/${trainer.id}`, { firstName: 'Ashton' }],
      ['GET', `/trainers/${trainer.id}/pokemon`],
      ['GET', `/trainers/${uniqueId('ghost')}/pokemon`],
      ['DELETE', `/trainers/${trainer.id}`],
      ['DELETE', `/trainers/${other.id}`],
      ['POST', '/pokemon', { id: uniqueId('p'), nickname: 'N', species: 'Pikachoo', level: 3, owner: trainer.id, dateOfOwnership: '2020-01-01' }],
      ['GET', '/pokemon?minLevel=1&maxLevel=100&species=pikachu'],
      ['GET', `/pokemon/${pokemon.id}`],
      ['GET', `/pokemon/${uniqueId('ghost')}`],
      ['PATCH', `/pokemon/${pokemon.id}`, { level: 77 }],
      ['GET', `/pokemon/${pokemon.id}/history`],
      ['DELETE', `/pokemon/${doomed.id}`],
      ['GET', '/species?type=fire'],
      ['GET', '/species/pikachu'],
    ];
    for (const [method, path, json] of requests) {
      const response = await call(path, { method, json });
      expect(response.status, `${method} ${path}`).toBeLessThan(500);
      expect(roundTrips(response), `${method} ${path}`).toEqual({ db: 1, cache: 0 });
    }
  });
});
