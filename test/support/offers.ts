/**
 * Helpers for offer tests: trainers with trainer keys, and the offer routes called with them.
 */
import { expect } from 'vitest';
import { call } from './api.ts';
import type { Offer } from '../../src/domain/offers.ts';
import type { Exchange } from './exchanges.ts';

export type { Offer };
import { createPokemon, createTrainer } from './fixtures.ts';
import { createKey } from './keys.ts';

export type AcceptedOffer = Offer & { exchange: Exchange };

/** A trainer, its trainer key (and the key's id), and `pokemon` Pokémon it owns. */
export async function trainerWithKey(pokemon = 0) {
  const trainer = await createTrainer();
  const { key, id: keyId } = await createKey({ scopes: ['trainer'], trainer: trainer.id });
  const owned = [];
  for (let i = 0; i < pokemon; i++) owned.push((await createPokemon(trainer.id)).id);
  return { id: trainer.id, key, keyId, pokemon: owned };
}

/** `POST /offers` with `key` (sent as given, so invalid bodies can be tried too). */
export function postOffer(key: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return call('/offers', { method: 'POST', key, json: body, headers });
}

/** Makes an offer (asserting 201). */
export async function makeOffer(key: string, body: { to: string; give: (string | undefined)[]; want: (string | undefined)[]; expiresInSeconds?: number }): Promise<Offer> {
  const response = await postOffer(key, body);
  expect(response.status, await response.clone().text()).toBe(201);
  return (await response.json()) as Offer;
}

/** `POST /offers/:id/accept` with `key`. */
export function acceptOffer(key: string | undefined, id: string, headers: Record<string, string> = {}): Promise<Response> {
  return call(`/offers/${id}/accept`, { method: 'POST', key, headers });
}

export function declineOffer(key: string | undefined, id: string): Promise<Response> {
  return call(`/offers/${id}/decline`, { method: 'POST', key });
}

export function withdrawOffer(key: string | undefined, id: string): Promise<Response> {
  return call(`/offers/${id}`, { method: 'DELETE', key });
}

/** An offer as the admin key reads it. */
export async function readOffer(id: string): Promise<Offer> {
  const response = await call(`/offers/${id}`);
  expect(response.status).toBe(200);
  return (await response.json()) as Offer;
}
