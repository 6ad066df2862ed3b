import { hc } from 'hono/client';
import { describe, expect, it } from 'vitest';
import type { AppType } from '../src/index.ts';
import { ADMIN_KEY, fetchChecked } from './support/api.ts';
import { uniqueId } from './support/fixtures.ts';

describe('typed hono/client', () => {
  it('creates and reads a trainer through the exported AppType', async () => {
    const client = hc<AppType>('http://api.test', {
      headers: { Authorization: `Bearer ${ADMIN_KEY}` },
      fetch: (input: RequestInfo | URL, init?: RequestInit) => fetchChecked(new Request(input, init)) });
    const id = uniqueId('typed');
    const created = await client.trainers.$post({ json: { id, firstName: 'Serena', lastName: 'Yvonne', dateOfBirth: '2011-02-02' } });
    expect(created.status).toBe(201);
    const read = await client.trainers[':id'].$get({ param: { id } });
    if (read.status !== 200) throw new Error(`expected 200, got ${read.status}`);
    const trainer = await read.json();
    // `trainer` is typed: these property accesses are checked by the compiler.
    expect([trainer.firstName, trainer.pokemonCount]).toEqual(['Serena', 0]);
  });
});
