/**
 * The fault suite (runs on a real PostgreSQL, TEST_DATABASE_URL): the Worker reaches the run's
 * scratch database and Redis through a stand-in process of the suite's own, which it kills,
 * restarts, freezes (SIGSTOP) and thaws (SIGCONT) through the global setup's control server.
 * While that process is down or frozen, writes answer 503 problem+json with Retry-After within
 * the dependency timeout and write nothing; after recovery the same request, with the same
 * Idempotency-Key, takes effect exactly once. Reads of the outcome go through the run's main
 * stand-ins, which are never faulted.
 */
import { describe, expect, inject, it } from 'vitest';
import { callWithBindings, expectProblem, type CallInit } from './support/api.ts';
import { historyOf, ownerOf } from './support/exchanges.ts';
import { createPokemon, createTrainer, uniqueId } from './support/fixtures.ts';

const controlUrl = inject('faultControlUrl')!;
/** Short, so a frozen dependency costs the suite little; the 503 must come within it. */
const DEPENDENCY_TIMEOUT_MS = 1000;

type FaultBindings = Record<string, string | undefined>;

/** Acts on the suite's stand-in process; answers the bindings that reach it now. */
async function standins(action: 'freeze' | 'thaw' | 'kill' | 'start' | 'bindings'): Promise<FaultBindings> {
  const response = await fetch(`${controlUrl}/standins/${action}`, { method: 'POST' });
  expect(response.status).toBe(200);
  return { ...((await response.json()) as FaultBindings), DEPENDENCY_TIMEOUT_MS: String(DEPENDENCY_TIMEOUT_MS) };
}

/** Sends a request through the faulted stand-ins and times it. */
async function timed(bindings: FaultBindings, path: string, init: CallInit) {
  const started = Date.now();
  const response = await callWithBindings(bindings, path, init);
  return { response, elapsedMs: Date.now() - started };
}

async function expectUnavailableWithin({ response, elapsedMs }: { response: Response; elapsedMs: number }, limitMs: number) {
  const problem = await expectProblem(response, 503);
  expect(problem.type).toBe('/problems/dependency-unavailable');
  expect(['database', 'redis']).toContain(problem.dependency);
  expect(response.headers.get('Retry-After')).toMatch(/^\d+$/);
  expect(elapsedMs).toBeLessThan(limitMs);
}

/** How long a claim on an Idempotency-Key outlives a request that gave up (src/http/idempotency.ts). */
const IN_FLIGHT_MS = 12 * DEPENDENCY_TIMEOUT_MS;

/**
 * After recovery: sends the request again, as a client honouring Retry-After does, while it is
 * refused with 409 (the first attempt's claim on the key, which the frozen Redis stored late)
 * or 503, until that claim must have expired.
 */
async function retry(bindings: FaultBindings, path: string, init: CallInit): Promise<Response> {
  const deadline = Date.now() + IN_FLIGHT_MS + 2_000;
  for (;;) {
    const response = await callWithBindings(bindings, path, init);
    if (![409, 503].includes(response.status) || Date.now() > deadline) return response;
    const retryAfterSeconds = Number(response.headers.get('Retry-After'));
    expect(retryAfterSeconds, `a refused retry (${response.status}) says when to come back`).toBeGreaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, retryAfterSeconds * 1000));
  }
}

async function trade() {
  const [a, b] = [await createTrainer(), await createTrainer()];
  const p = await createPokemon(a.id);
  const init: CallInit = {
    method: 'POST',
    json: { trainerA: a.id, trainerB: b.id, pokemonsA: [p.id], pokemonsB: [] },
    headers: { 'Idempotency-Key': uniqueId('fault') },
  };
  return { a, b, p, init };
}

/** The exchanges a Pokémon went through, from its history. */
const exchangesOf = async (pokemonId: string) => (await historyOf(pokemonId)).filter((entry) => entry.source === 'exchanged');

describe('the stand-in process killed', () => {
  it('answers 503 at once and writes nothing; after a restart the same exchange trades exactly once', async () => {
    const { a, b, p, init } = await trade();
    await standins('kill');
    try {
      await expectUnavailableWithin(await timed(await standins('bindings'), '/exchanges', init), DEPENDENCY_TIMEOUT_MS);
      expect(await ownerOf(p.id)).toBe(a.id);
    } finally {
      await standins('start');
    }
    const bindings = await standins('bindings');
    const traded = await retry(bindings, '/exchanges', init);
    expect(traded.status, await traded.clone().text()).toBe(201);
    const again = await retry(bindings, '/exchanges', init);
    expect([200, 201]).toContain(again.status);
    expect(((await again.json()) as { id: string }).id).toBe(((await traded.json()) as { id: string }).id);
    expect(await ownerOf(p.id)).toBe(b.id);
    expect(await exchangesOf(p.id)).toHaveLength(1);
  });
});

describe('the stand-in process frozen (SIGSTOP)', () => {
  it('answers 503 within the dependency timeout; after SIGCONT the same exchange trades exactly once', { timeout: IN_FLIGHT_MS + 20_000 }, async () => {
    const { a, b, p, init } = await trade();
    const bindings = await standins('freeze');
    try {
      await expectUnavailableWithin(await timed(bindings, '/exchanges', init), DEPENDENCY_TIMEOUT_MS + 1500);
      expect(await ownerOf(p.id)).toBe(a.id);
    } finally {
      await standins('thaw');
    }
    // The frozen process may still run what it had received: the retry must not trade a second time.
    const traded = await retry(bindings, '/exchanges', init);
    expect([200, 201], await traded.clone().text()).toContain(traded.status);
    expect(await ownerOf(p.id)).toBe(b.id);
    expect(await exchangesOf(p.id)).toHaveLength(1);
  });

  it('answers 503 for an upload commit; after SIGCONT committing again inserts each row once', async () => {
    const bindings = await standins('bindings');
    const owner = await createTrainer();
    const pokemonId = uniqueId('p');
    const csv = `id,nickname,species,level,owner,dateOfOwnership\n${pokemonId},Sparky,Pikachu,5,${owner.id},2020-01-01\n`;
    const staged = await callWithBindings(bindings, '/uploads?type=pokemon', { method: 'POST', body: csv, headers: { 'Content-Type': 'text/csv' } });
    expect(staged.status, await staged.clone().text()).toBe(201);
    const { id } = (await staged.json()) as { id: string };
    const commit: CallInit = { method: 'POST' };
    await standins('freeze');
    try {
      await expectUnavailableWithin(await timed(bindings, `/uploads/${id}/commit`, commit), DEPENDENCY_TIMEOUT_MS + 1500);
    } finally {
      await standins('thaw');
    }
    const committed = await retry(bindings, `/uploads/${id}/commit`, commit);
    expect(committed.status, await committed.clone().text()).toBe(200);
    expect(await committed.json()).toMatchObject({ status: 'committed', inserted: 1 });
    expect(await ownerOf(pokemonId)).toBe(owner.id);
    expect(await historyOf(pokemonId)).toHaveLength(1);
  });
});
