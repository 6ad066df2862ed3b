/**
 * A small demo data set (three trainers, six Pokémon of real species) so `npm run dev` has
 * something to show. Idempotent: rows that exist are left alone.
 *
 * Usage: npm run db:seed (the `npm run dev` database), or DATABASE_URL=… [NEON_FETCH_ENDPOINT=…] npm run db:seed
 */
import { neon, neonConfig } from '@neondatabase/serverless';
import { fileURLToPath } from 'node:url';
import type { MigrateTarget } from './db-migrate.ts';
import { devDatabase } from './db-migrate.ts';

const TRAINERS = [
  ['ash', 'Ash', 'Ketchum', '2010-05-22'],
  ['misty', 'Misty', 'Waterflower', '2009-03-14'],
  ['brock', 'Brock', 'Harrison', '2005-07-01'],
] as const;

const POKEMON = [
  ['pikachu1', 'Sparky', 'pikachu', 25, 'ash', '2020-04-01'],
  ['charizard1', 'Blaze', 'charizard', 52, 'ash', '2021-06-12'],
  ['starmie1', 'Star', 'starmie', 40, 'misty', '2019-09-09'],
  ['psyduck1', 'Duckie', 'psyduck', 18, 'misty', '2022-01-30'],
  ['onix1', 'Rocky', 'onix', 44, 'brock', '2018-11-11'],
  ['geodude1', 'Pebble', 'geodude', 21, 'brock', '2023-02-02'],
] as const;

/** Inserts the demo rows in one transaction; returns how many trainers were new. */
export async function seed({ databaseUrl, fetchEndpoint }: MigrateTarget): Promise<number> {
  if (fetchEndpoint) neonConfig.fetchEndpoint = fetchEndpoint;
  const sql = neon(databaseUrl);
  const column = <T>(rows: readonly (readonly unknown[])[], i: number) => rows.map((row) => row[i] as T);
  const [trainers] = await sql.transaction([
    sql`INSERT INTO trainers (id, first_name, last_name, date_of_birth)
        SELECT * FROM unnest(${column(TRAINERS, 0)}::text[], ${column(TRAINERS, 1)}::text[], ${column(TRAINERS, 2)}::text[], ${column(TRAINERS, 3)}::date[])
        ON CONFLICT (id) DO NOTHING RETURNING id`,
    sql`WITH p AS (
          INSERT INTO pokemon (id, nickname, species_number, level, owner_id, date_of_ownership)
          SELECT input.id, input.nickname, s.dex_number, input.level, input.owner_id, input.acquired
          FROM unnest(${column(POKEMON, 0)}::text[], ${column(POKEMON, 1)}::text[], ${column(POKEMON, 2)}::text[],
                      ${column(POKEMON, 3)}::int[], ${column(POKEMON, 4)}::text[], ${column(POKEMON, 5)}::date[])
               AS input (id, nickname, slug, level, owner_id, acquired)
          JOIN species s ON s.slug = input.slug
          ON CONFLICT (id) DO NOTHING RETURNING id, owner_id, date_of_ownership
        )
        INSERT INTO ownership_history (pokemon_id, trainer_id, acquired_on, source)
        SELECT id, owner_id, date_of_ownership, 'created' FROM p`,
  ]);
  return trainers!.length;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const added = await seed(devDatabase());
  console.log(added === 0 ? 'Demo data already there.' : `Added ${added} demo trainers and their Pokémon.`);
}
