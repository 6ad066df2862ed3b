/**
 * Helpers for storms of concurrent trades: a seeded PRNG (TEST_SEED), a world of trainers and
 * Pokémon, random trades, and the invariants checked afterwards (one owner each, histories that
 * chain through successful trades only and replay to today's owners).
 */
import { expect, inject } from 'vitest';
import { call, roundTrips } from './api.ts';
import { historyOf, type Exchange, type ExchangeBody } from './exchanges.ts';
import { createPokemon, createTrainer } from './fixtures.ts';

/** A small seeded PRNG (mulberry32), so a failing run can be reproduced from its seed. */
export function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The seed of every random choice in this file: `TEST_SEED` when set (`TEST_SEED=123 npm test`
 * replays a failing storm's trades exactly), a random one otherwise.
 */
export const SEED = seedFrom(inject('testSeed'));

export function seedFrom(value: string | undefined): number {
  if (value === undefined || value === '') return crypto.getRandomValues(new Uint32Array(1))[0]!;
  const seed = Number(value);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffff_ffff) throw new Error(`TEST_SEED must be a whole number from 0 to 4294967295, not ${JSON.stringify(value)}`);
  return seed;
}

/**
 * A test body that draws its random choices from a PRNG seeded with {@link SEED}; whatever
 * fails in it (an assertion in a helper too) names the seed and the command that replays it.
 */
export function seeded(file: string, body: (next: () => number) => Promise<void>): () => Promise<void> {
  return async () => {
    console.log(`[concurrency] TEST_SEED=${SEED}`);
    try {
      await body(random(SEED));
    } catch (error) {
      const replay = `[replay with: TEST_SEED=${SEED} npm test -- ${file}]`;
      if (error instanceof Error) {
        error.message = `${error.message}\n${replay}`;
        throw error;
      }
      throw new Error(`${String(error)}\n${replay}`, { cause: error });
    }
  };
}

/** Trainers, each owning `perTrainer` Pokémon; returns who owns what. */
export async function world(trainers: number, perTrainer: number) {
  const ids = await Promise.all(Array.from({ length: trainers }, () => createTrainer().then((t) => t.id)));
  const owners = new Map<string, string>();
  for (const trainer of ids) {
    const pokemon = await Promise.all(Array.from({ length: perTrainer }, () => createPokemon(trainer).then((p) => p.id)));
    for (const id of pokemon) owners.set(id, trainer);
  }
  return { trainers: ids, owners };
}

/**
 * Random trades: two trainers, one to three Pokémon from the whole pool, each put on a random
 * side. A listed Pokémon is on its owner's side only by luck, so many trades conflict.
 */
export function randomTrades(count: number, trainers: string[], pokemon: string[], next: () => number): ExchangeBody[] {
  const pick = <T>(items: T[]) => items[Math.floor(next() * items.length)]!;
  return Array.from({ length: count }, () => {
    const trainerA = pick(trainers);
    const trainerB = pick(trainers.filter((t) => t !== trainerA));
    const listed = new Set(Array.from({ length: 1 + Math.floor(next() * 3) }, () => pick(pokemon)));
    const body: ExchangeBody = { trainerA, trainerB, pokemonsA: [], pokemonsB: [] };
    for (const id of listed) (next() < 0.5 ? body.pokemonsA : body.pokemonsB).push(id);
    return body;
  });
}

/** Current owner of every Pokémon that still exists, read through each trainer's listing. */
export async function currentOwners(trainers: string[]): Promise<Map<string, string>> {
  const owners = new Map<string, string>();
  for (const trainer of trainers) {
    const response = await call(`/pokemon?owner=${trainer}&limit=100`);
    for (const { id } of ((await response.json()) as { data: { id: string }[] }).data) {
      expect(owners.has(id), `${id} listed under two owners`).toBe(false);
      owners.set(id, trainer);
    }
  }
  return owners;
}

/** Applies `exchange` to `owners`, asserting each Pokémon was with the side that gave it. */
export function apply(owners: Map<string, string>, exchange: Exchange): void {
  for (const [from, to, ids] of [
    [exchange.trainerA, exchange.trainerB, exchange.pokemonsA],
    [exchange.trainerB, exchange.trainerA, exchange.pokemonsB],
  ] as const) {
    for (const id of ids) {
      expect(owners.get(id), `${exchange.id} took ${id} from ${from}`).toBe(from);
      owners.set(id, to);
    }
  }
}

/**
 * Checks every Pokémon's history against the successful trades: it starts with its creation
 * by its first owner, each later entry is a successful trade that moved it, in a chain
 * (each trade took it from the previous entry's trainer), and the last entry is its owner now.
 * Returns the trades each Pokémon went through, in order.
 */
export async function checkHistories(initial: Map<string, string>, now: Map<string, string>, created: Map<string, Exchange>): Promise<Map<string, string[]>> {
  const chains = new Map<string, string[]>();
  for (const [id, firstOwner] of initial) {
    if (!now.has(id)) continue;
    const [creation, ...trades] = await historyOf(id);
    expect(creation).toMatchObject({ source: 'created', trainer: firstOwner });
    const owners = new Map([[id, firstOwner]]);
    for (const entry of trades) {
      expect(entry.source).toBe('exchanged');
      const exchange = created.get(entry.exchangeId!);
      expect(exchange, `history of ${id} names ${entry.exchangeId}, which never answered 201`).toBeDefined();
      apply(owners, { ...exchange!, pokemonsA: exchange!.pokemonsA.filter((p) => p === id), pokemonsB: exchange!.pokemonsB.filter((p) => p === id) });
      expect(entry.trainer).toBe(owners.get(id));
    }
    expect(owners.get(id), `${id}'s history ends with its owner`).toBe(now.get(id));
    chains.set(id, trades.map((entry) => entry.exchangeId!));
  }
  return chains;
}

/** The successful trades in an order consistent with every Pokémon's history; fails on a cycle. */
export function historyOrder(created: Map<string, Exchange>, chains: Map<string, string[]>): Exchange[] {
  const after = new Map<string, string[]>([...created.keys()].map((id) => [id, []]));
  const waitingOn = new Map<string, number>([...created.keys()].map((id) => [id, 0]));
  for (const chain of chains.values()) {
    for (let i = 1; i < chain.length; i++) {
      after.get(chain[i - 1]!)!.push(chain[i]!);
      waitingOn.set(chain[i]!, waitingOn.get(chain[i]!)! + 1);
    }
  }
  const ready = [...waitingOn].filter(([, n]) => n === 0).map(([id]) => id);
  const order: Exchange[] = [];
  while (ready.length > 0) {
    const id = ready.pop()!;
    order.push(created.get(id)!);
    for (const next of after.get(id)!) {
      waitingOn.set(next, waitingOn.get(next)! - 1);
      if (waitingOn.get(next) === 0) ready.push(next);
    }
  }
  expect(order.length, 'the histories order the trades without a cycle').toBe(created.size);
  return order;
}

/** Fires every request at once; returns each response's status, JSON body and db round trips. */
export function fireAll(requests: (() => Promise<Response>)[]) {
  return Promise.all(
    requests.map(async (send) => {
      const response = await send();
      return { status: response.status, body: response.status === 204 ? null : ((await response.json()) as Record<string, any>), db: roundTrips(response).db };
    }),
  );
}

/** The 201 answers, by exchange id. */
export function successfulTrades(results: Awaited<ReturnType<typeof fireAll>>): Map<string, Exchange> {
  return new Map(results.filter((r) => r.status === 201).map((r) => [r.body!.id as string, r.body as Exchange]));
}

/** Ids of every exchange listed for these trainers. */
export async function listedTrades(trainers: string[]): Promise<Set<string>> {
  const listed = new Set<string>();
  for (const trainer of trainers) {
    const page = (await (await call(`/exchanges?trainer=${trainer}&limit=100`)).json()) as { data: Exchange[] };
    for (const exchange of page.data) listed.add(exchange.id);
  }
  return listed;
}


/**
 * The invariants after a storm of trades, `created` being every trade that answered 201: every
 * Pokémon still there with exactly one owner; histories that name only those trades, each once
 * per Pokémon it moved (a refused trade changed nothing); replaying them in history order from
 * `initial` gives today's owners; and the exchanges table holds exactly those trades.
 */
export async function checkTradeInvariants(trainers: string[], initial: Map<string, string>, created: Map<string, Exchange>): Promise<void> {
  const now = await currentOwners(trainers);
  expect([...now.keys()].sort()).toEqual([...initial.keys()].sort());
  const chains = await checkHistories(initial, now, created);
  const moves = [...created.values()].reduce((n, e) => n + e.pokemonsA.length + e.pokemonsB.length, 0);
  expect([...chains.values()].flat().length).toBe(moves);
  const replayed = new Map(initial);
  for (const exchange of historyOrder(created, chains)) apply(replayed, exchange);
  expect(replayed).toEqual(now);
  expect(await listedTrades(trainers)).toEqual(new Set(created.keys()));
}
