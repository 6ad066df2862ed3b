/**
 * Test data through the public API. Ids are unique per call: the database is shared by every
 * test file of a run and is not rolled back between tests.
 */
import { expect } from 'vitest';
import { call } from './api.ts';

/** A fresh id with a readable prefix, e.g. `trainer-k3j9x2ab`. */
export function uniqueId(prefix: string): string {
  return `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
}

export interface TrainerInput {
  id: string;
  firstName: string;
  lastName: string;
  dateOfBirth: string;
}

/** Creates a trainer (asserting 201) and returns what the API answered. */
export async function createTrainer(overrides: Partial<TrainerInput> = {}) {
  const input: TrainerInput = { id: uniqueId('trainer'), firstName: 'Ash', lastName: 'Ketchum', dateOfBirth: '2010-05-22', ...overrides };
  const response = await call('/trainers', { method: 'POST', json: input });
  expect(response.status, await response.clone().text()).toBe(201);
  return (await response.json()) as TrainerInput & { createdAt: string; updatedAt: string };
}

export interface PokemonInput {
  id: string;
  nickname: string;
  species: string;
  level: number;
  owner: string;
  dateOfOwnership: string;
}

/** Creates a Pokémon owned by `owner` (asserting 201) and returns what the API answered. */
export async function createPokemon(owner: string, overrides: Partial<PokemonInput> = {}) {
  const input: PokemonInput = {
    id: uniqueId('pokemon'),
    nickname: 'Sparky',
    species: 'Pikachu',
    level: 5,
    owner,
    dateOfOwnership: '2020-01-01',
    ...overrides,
  };
  const response = await call('/pokemon', { method: 'POST', json: input });
  expect(response.status, await response.clone().text()).toBe(201);
  return (await response.json()) as PokemonInput & Record<string, unknown>;
}
