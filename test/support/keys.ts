/**
 * Helpers for API-key tests: keys made through the API with the run's admin key.
 */
import { expect } from 'vitest';
import { call } from './api.ts';
import { uniqueId } from './fixtures.ts';

export interface CreatedKey {
  id: string;
  key: string;
  scopes: string[];
}

/** Creates a key (asserting 201) and returns what the API answered, secret included. */
export async function createKey(body: { scopes: string[]; name?: string; expiresAt?: string; rateLimit?: { requests: number; windowSeconds: number }; trainer?: string }) {
  const response = await call('/keys', { method: 'POST', json: { name: uniqueId('key'), ...body } });
  expect(response.status, await response.clone().text()).toBe(201);
  return (await response.json()) as CreatedKey & Record<string, unknown>;
}

/** Revokes a key (asserting 204). */
export async function revokeKey(id: string): Promise<void> {
  expect((await call(`/keys/${id}`, { method: 'DELETE' })).status).toBe(204);
}
