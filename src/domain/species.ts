/**
 * The national Pokédex, read-only (loaded by a migration). A species is named by its name
 * (ignoring case and punctuation) or by its national dex number, everywhere alike.
 */
import { and, asc, gt, like, sql, type SQL } from 'drizzle-orm';
import { species } from '../db/schema.ts';
import type { Database } from '../platform/database.ts';
import { listOf } from '../platform/wording.ts';
import { DEX_NUMBER, speciesSlug } from './fields.ts';
import { arrayLiteral } from './uploads/chunks.ts';
import type { SpeciesSummary } from './pokemon.ts';

const columns = { dexNumber: species.dexNumber, name: species.name, types: species.types };

/** Every type a species of the Pokédex has (test/species.test.ts checks it against the table). */
export const POKEMON_TYPES = [
  'Bug', 'Dark', 'Dragon', 'Electric', 'Fairy', 'Fighting', 'Fire', 'Flying', 'Ghost',
  'Grass', 'Ground', 'Ice', 'Normal', 'Poison', 'Psychic', 'Rock', 'Steel', 'Water',
] as const;

/** A species as a request names it: a name, or a dex number (`25`, `"25"`). */
export type SpeciesRef = string | number;

/** The dex number `ref` names, or `undefined` when it is a name. */
function dexNumberOf(ref: SpeciesRef): number | undefined {
  if (typeof ref === 'number') return ref;
  return DEX_NUMBER.test(ref.trim()) ? Number(ref) : undefined;
}

/** `ref` as lookups compare it (and uploads stage it): a dex number's digits, or a name's slug. */
function speciesKey(ref: SpeciesRef): string {
  const number = dexNumberOf(ref);
  return number === undefined ? speciesSlug(String(ref)) : String(number);
}

/**
 * The condition that the species row `s` is the one `key` names — a {@link speciesKey}, or a
 * column of them: the one way every query finds a species by name or number.
 */
export function speciesKeyMatches(s: SQL, key: SQL): SQL {
  return sql`(${s}.slug = ${key} OR ${s}.dex_number = CASE WHEN ${key} ~ '^[0-9]{1,5}$' THEN ${key}::int END)`;
}

/** The condition on `species` selecting the species `ref` names. */
export function speciesMatch(ref: SpeciesRef): SQL {
  const key = speciesKey(ref);
  return speciesKeyMatches(sql`species`, sql`${key}::text`);
}

/**
 * Up to three species names closest to `ref` by edit distance, for "did you mean" (computed
 * only when `missing`); none for a dex number, whose neighbours mean nothing.
 */
export function suggestionsSql(ref: SpeciesRef, missing: SQL): SQL {
  if (dexNumberOf(ref) !== undefined) return sql`'{}'::text[]`;
  const slug = speciesSlug(String(ref));
  return sql`CASE WHEN ${missing} THEN (
    SELECT coalesce(array_agg(name ORDER BY distance, dex_number), '{}') FROM (
      SELECT name, dex_number, edit_distance(slug, ${slug}) AS distance FROM species ORDER BY distance, dex_number LIMIT 3
    ) closest WHERE distance <= greatest(2, length(${slug}) / 2)
  ) END`;
}

/** `ref` as a sentence names it: `"pikchu"`, or `number 9999`. */
function speciesLabel(ref: SpeciesRef): string {
  const number = dexNumberOf(ref);
  return number === undefined ? `"${String(ref)}"` : `number ${number}`;
}

/** What is wrong with a species the Pokédex does not have, with its suggestions: "is not in the national Pokédex; did you mean Pikachu?" */
export function notInPokedex(suggestions: readonly string[]): string {
  return `is not in the national Pokédex${suggestions.length > 0 ? `; did you mean ${listOf(suggestions, 'or')}?` : ''}`;
}

/** The sentence about an unknown species `ref`, whose subject is `what` (e.g. "species", "The species"). */
export function unknownSpeciesSentence(what: string, ref: SpeciesRef, suggestions: readonly string[]): string {
  return `${what} ${speciesLabel(ref)} ${notInPokedex(suggestions)}${suggestions.length > 0 ? '' : '.'}`;
}

/**
 * Those of `refs` the Pokédex does not have, each with up to three suggestions (none for a dex
 * number), in one round trip — made only once a lookup has missed.
 */
export async function missingSpecies(db: Database, refs: readonly SpeciesRef[]): Promise<Map<string, string[]>> {
  const keys = [...new Set(refs.map(String))];
  // Names only: a dex number's neighbours mean nothing.
  const slugs = keys.map((key) => (dexNumberOf(key) === undefined ? speciesSlug(key) : ''));
  const { rows } = await db.execute<{ key: string; suggestions: string[] }>(sql`
    SELECT u.key, ARRAY(
      SELECT name FROM (
        SELECT name, dex_number, edit_distance(s.slug, u.slug) AS distance FROM species s WHERE u.slug <> '' ORDER BY distance, dex_number LIMIT 3
      ) closest WHERE distance <= greatest(2, length(u.slug) / 2) ORDER BY distance, dex_number
    ) AS suggestions
    FROM unnest(${arrayLiteral(keys)}::text[], ${arrayLiteral(slugs)}::text[], ${arrayLiteral(keys.map(speciesKey))}::text[]) AS u(key, slug, species_key)
    WHERE NOT EXISTS (SELECT 1 FROM species s WHERE ${speciesKeyMatches(sql`s`, sql`u.species_key`)})`);
  return new Map(rows.map((row) => [row.key, row.suggestions]));
}

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
        options.type === undefined ? undefined : sql`${options.type} = ANY (${species.types})`,
      ),
    )
    .orderBy(asc(species.dexNumber))
    .limit(options.limit + 1);
}

/** A species by national dex number or by name (ignoring case and punctuation). */
export async function getSpecies(db: Database, ref: SpeciesRef): Promise<SpeciesSummary | undefined> {
  const [row] = await db.select(columns).from(species).where(speciesMatch(ref));
  return row;
}
