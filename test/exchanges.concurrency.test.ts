/**
 * Exchanges under concurrency, against whichever engine the stand-in runs on: on PostgreSQL
 * requests really overlap (pooled sessions), on PGlite they queue. Trades are random over a
 * few trainers and overlapping Pokémon, so many conflict; afterwards the state must be
 * exactly what the successful trades, replayed in order, produce.
 */
import { describe, expect, it } from 'vitest';
import { call } from './support/api.ts';
import { postExchange } from './support/exchanges.ts';
import { checkHistories, checkTradeInvariants, currentOwners, fireAll, listedTrades, randomTrades, SEED, seeded as seededIn, successfulTrades, world } from './support/storm.ts';

const seeded = (body: (next: () => number) => Promise<void>) => seededIn('test/exchanges.concurrency.test.ts', body);

describe('exchanges under concurrency', () => {
  it('200 concurrent trades over overlapping Pokémon: each all or nothing, history replays to the owners', seeded(async (next) => {
    const { trainers, owners: initial } = await world(3, 4);
    const trades = randomTrades(200, trainers, [...initial.keys()], next);

    const results = await fireAll(trades.map((body) => () => postExchange(body)));
    expect(results.filter((r) => r.status !== 201 && r.status !== 409)).toEqual([]);
    // One round trip each: no deadlock was retried.
    expect(results.every((r) => r.db === 1)).toBe(true);
    const created = successfulTrades(results);
    console.log(`[concurrency] TEST_SEED=${SEED}: ${created.size} traded, ${results.length - created.size} conflicted`);
    expect(created.size).toBeGreaterThan(0);

    await checkTradeInvariants(trainers, initial, created);
  }));

  it('trades racing Pokémon and trainer deletes never leave a Pokémon with a missing owner', seeded(async (next) => {
    const { trainers, owners: initial } = await world(4, 4);
    const pokemon = [...initial.keys()];
    const [doomedPokemon1, doomedPokemon2] = [pokemon[0]!, pokemon[5]!];
    const [cascaded, refused] = [trainers[3]!, trainers[2]!];
    const requests = randomTrades(80, trainers, pokemon, next).map((body) => () => postExchange(body));
    // The deletes go in among the trades.
    const deletes = [`/pokemon/${doomedPokemon1}`, `/pokemon/${doomedPokemon2}`, `/trainers/${cascaded}?cascade=true`, `/trainers/${refused}`];
    const positions = deletes.map((_, i) => 10 + i * 20);
    deletes.forEach((path, i) => requests.splice(positions[i]!, 0, () => call(path, { method: 'DELETE' })));

    const results = await fireAll(requests);
    const [pokemonDelete1, pokemonDelete2, ...trainerDeletes] = positions.map((i) => results[i]!);
    expect([pokemonDelete1!.status, pokemonDelete2!.status]).toEqual([204, 204]);
    // A trainer delete is refused (409) while they own Pokémon, which trades may give or take
    // meanwhile; even with cascade, a Pokémon received mid-delete makes the foreign key refuse it.
    for (const r of trainerDeletes) expect([204, 409]).toContain(r.status);
    for (const r of results) expect([201, 204, 404, 409], JSON.stringify(r.body)).toContain(r.status);

    // Every Pokémon that still exists belongs to a trainer that still exists.
    const liveTrainers = [];
    for (const trainer of trainers) if ((await call(`/trainers/${trainer}`)).status === 200) liveTrainers.push(trainer);
    const now = await currentOwners(liveTrainers);
    for (const id of pokemon) {
      const response = await call(`/pokemon/${id}`);
      if (response.status === 404) continue;
      const { owner } = (await response.json()) as { owner: string };
      expect(now.get(id), `${id} is owned by ${owner}, who is gone`).toBe(owner);
    }
    expect(now.has(doomedPokemon1) || now.has(doomedPokemon2)).toBe(false);

    // Surviving Pokémon's histories still chain through successful trades only, and every
    // trade stays on record, also those of deleted trainers.
    const created = successfulTrades(results);
    await checkHistories(initial, now, created);
    expect(await listedTrades(trainers)).toEqual(new Set(created.keys()));
  }));
});
