/**
 * Conditional writes, one level down: the write statement itself checks the version it was made
 * conditional on. A route reads the representation for `If-Match` first (test/read-cache.test.ts),
 * so a version that is already stale is refused there; the statement refuses one that went stale
 * after that read — here handed to it directly, as if another write had landed in between.
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import type { Bindings } from '../src/env.ts';
import { deletePokemon, getPokemon, updatePokemon } from '../src/domain/pokemon.ts';
import { deleteTrainer, getTrainer, updateTrainer } from '../src/domain/trainers.ts';
import type { Version } from '../src/domain/versions.ts';
import { configFor } from '../src/platform/config.ts';
import { createDatabases } from '../src/platform/database.ts';
import { RoundTrips } from '../src/platform/round-trips.ts';
import { createPokemon, createTrainer } from './support/fixtures.ts';

const primary = () => createDatabases(configFor(env as unknown as Bindings).database, new RoundTrips()).primary;

/** The version of a representation read before another write changed it. */
const before = (updatedAt: string): Version => ({ updatedAt: new Date(Date.parse(updatedAt) - 1000).toISOString() });

describe('a write conditional on a version that went stale after the If-Match check', () => {
  it('changes no Pokémon: neither its owner’s update or delete nor an admin’s', async () => {
    const trainer = await createTrainer();
    const pokemon = await createPokemon(trainer.id);
    const updatedAt = String(pokemon.updatedAt);
    const stale = before(updatedAt);
    for (const ownedBy of [undefined, trainer.id]) {
      expect(await updatePokemon(primary(), pokemon.id, { level: 99 }, ownedBy, stale)).toEqual({ status: 'changed' });
      expect(await deletePokemon(primary(), pokemon.id, ownedBy, stale)).toEqual({ status: 'changed' });
    }
    expect(await getPokemon(primary(), pokemon.id)).toMatchObject({ level: pokemon.level, updatedAt });
    // The current version goes through.
    expect(await deletePokemon(primary(), pokemon.id, trainer.id, { updatedAt })).toEqual({ status: 'deleted' });
  });

  it('changes no trainer, whether its date or its Pokémon count moved', async () => {
    const trainer = await createTrainer();
    for (const stale of [before(trainer.updatedAt), { updatedAt: trainer.updatedAt, pokemonCount: 1 }]) {
      expect(await updateTrainer(primary(), trainer.id, { firstName: 'Stale' }, stale)).toEqual({ status: 'changed' });
      expect(await deleteTrainer(primary(), trainer.id, true, stale)).toEqual({ status: 'changed' });
    }
    expect(await getTrainer(primary(), trainer.id)).toMatchObject({ firstName: trainer.firstName, updatedAt: trainer.updatedAt });
    // A version read without a count is the count of none.
    expect(await deleteTrainer(primary(), trainer.id, false, { updatedAt: trainer.updatedAt })).toEqual({ status: 'deleted', pokemonDeleted: 0 });
  });
});
