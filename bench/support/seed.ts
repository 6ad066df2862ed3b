/**
 * Benchmark data straight into PostgreSQL: trainers `t0…`, each owning `pokemonPerTrainer`
 * Pokémon `p0…` (assorted species and levels), each with its first ownership-history entry.
 */
import type pg from 'pg';

export async function seedTrainersAndPokemon(db: pg.Client | pg.Pool, trainers: number, pokemonPerTrainer: number): Promise<void> {
  await db.query(
    `INSERT INTO trainers (id, first_name, last_name, date_of_birth) SELECT 't' || i, 'Ash', 'Ketchum', '2000-01-01' FROM generate_series(0, $1::int - 1) i`,
    [trainers],
  );
  await db.query(
    `WITH p AS (
       INSERT INTO pokemon (id, nickname, species_number, level, owner_id, date_of_ownership)
       SELECT 'p' || i, 'Sparky', 1 + (i * 7) % 151, 1 + i % 100, 't' || (i % $1::int), '2020-01-01' FROM generate_series(0, $1::int * $2::int - 1) i
       RETURNING id, owner_id, date_of_ownership)
     INSERT INTO ownership_history (pokemon_id, trainer_id, acquired_on, source) SELECT id, owner_id, date_of_ownership, 'created' FROM p`,
    [trainers, pokemonPerTrainer],
  );
}
