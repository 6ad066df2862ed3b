/**
 * The national Pokédex, read-only (loaded by a migration).
 */
import { and, asc, eq, gt, like, sql } from 'drizzle-orm';
import { species } from '../db/schema.ts';
import type { Database } from '../platform/database.ts';
import { speciesSlug } from './fields.ts';
import type { SpeciesSummary } from './pokemon.ts';

const columns = { dexNumber: species.dexNumber, name: species.name, types: species.types };

/** A page of species by dex number; `q` matches names ignoring case and punctuation, `type` one of their types. */
export async function listSpecies(
  db: Database,
  options: { limit: number; after?: number | undefined; q?: string | undefined; type?: string | undefined },
): Promise<SpeciesSummary[]> {
  return db
    .select(columns)
    .from(species)
    .where(
      and(
        options.after === undefined ? undefined : gt(species.dexNumber, options.after),
        options.q === undefined ? undefined : like(species.slug, `%${speciesSlug(options.q)}%`),
        options.type === undefined ? undefined : sql`lower(${options.type}) = ANY (SELECT lower(t) FROM unnest(${species.types}) AS t)`,
      ),
    )
    .orderBy(asc(species.dexNumber))
    .limit(options.limit + 1);
}

/** A species by national dex number or by name (ignoring case and punctuation). */
export async function getSpecies(db: Database, numberOrName: string): Promise<SpeciesSummary | undefined> {
  const condition = /^\d{1,5}$/.test(numberOrName)
    ? eq(species.dexNumber, Number(numberOrName))
    : eq(species.slug, speciesSlug(numberOrName));
  const [row] = await db.select(columns).from(species).where(condition);
  return row;
}
