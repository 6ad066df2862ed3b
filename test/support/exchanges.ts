/**
 * Helpers for exchange tests: sending trades and reading back owners and history.
 */
import { call } from './api.ts';

export interface ExchangeBody {
  trainerA: string;
  trainerB: string;
  pokemonsA: string[];
  pokemonsB: string[];
}

export interface Exchange extends ExchangeBody {
  id: string;
  createdAt: string;
  offerId: string | null;
}

export interface HistoryEntry {
  trainer: string;
  acquiredOn: string;
  source: 'created' | 'uploaded' | 'exchanged';
  exchangeId: string | null;
}

/** `POST /exchanges` with `body` (sent as given, so invalid bodies can be tried too). */
export function postExchange(body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return call('/exchanges', { method: 'POST', json: body, headers });
}

/** A Pokémon's ownership history, oldest first. */
export async function historyOf(pokemonId: string): Promise<HistoryEntry[]> {
  const response = await call(`/pokemon/${pokemonId}/history`);
  if (response.status !== 200) throw new Error(`history of ${pokemonId}: ${response.status}`);
  return ((await response.json()) as { data: HistoryEntry[] }).data;
}

/** A Pokémon's current owner. */
export async function ownerOf(pokemonId: string): Promise<string> {
  const response = await call(`/pokemon/${pokemonId}`);
  if (response.status !== 200) throw new Error(`pokemon ${pokemonId}: ${response.status}`);
  return ((await response.json()) as { owner: string }).owner;
}
