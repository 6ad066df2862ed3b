/**
 * Test data through the public API. Ids are unique per call: the database is shared by every
 * test file of a run and is not rolled back between tests.
 */
import { expect } from 'vitest';
import type { NewPokemon } from '../../src/domain/pokemon.ts';
import type { NewTrainer } from '../../src/domain/trainers.ts';
import { call } from './api.ts';

/** A fresh id with a readable prefix, e.g. `trainer-k3j9x2ab`. */
export function uniqueId(prefix: string): string {
  return `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
}

/** Creates a trainer (asserting 201) and returns what the API answered. */
export async function createTrainer(overrides: Partial<NewTrainer> = {}) {
  const input: NewTrainer = { id: uniqueId('trainer'), firstName: 'Ash', lastName: 'Ketchum', dateOfBirth: '2010-05-22', ...overrides };
  const response = await call('/trainers', { method: 'POST', json: input });
  expect(response.status, await response.clone().text()).toBe(201);
  return (await response.json()) as NewTrainer & { createdAt: string; updatedAt: string };
}

/** Creates a Pokémon owned by `owner` (asserting 201) and returns what the API answered. */
export async function createPokemon(owner: string, overrides: Partial<NewPokemon> = {}) {
  const input: NewPokemon = {
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
  return (await response.json()) as NewPokemon & Record<string, unknown>;
}

/**
 * Waits until the clock reads later than `timestamp` (an ISO string), polling rather than
 * sleeping a guessed time; fails after a few seconds (a clock that does not move).
 */
export async function clockPast(timestamp: string): Promise<void> {
  const instant = Date.parse(timestamp);
  expect(Number.isNaN(instant), `${timestamp} is not a timestamp`).toBe(false);
  const deadline = Date.now() + 5_000;
  while (Date.now() <= instant) {
    expect(Date.now(), `the clock did not pass ${timestamp}`).toBeLessThan(deadline);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}
