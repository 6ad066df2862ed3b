/**
 * Versions for conditional writes (`If-Match`): what a write must still find for it to go ahead.
 * A row's `updated_at` changes with every write to it; representations that also count related
 * rows (a trainer's `pokemonCount`) carry that count too.
 */
import { sql, type SQL } from 'drizzle-orm';

export interface Version {
  /** The representation's `updatedAt` (ISO, millisecond precision, as the API shows it). */
  updatedAt: string;
  /** For a trainer: how many Pokémon it owned. */
  pokemonCount?: number;
}

/** SQL that is true while `updatedAt` (a column) still is `version`'s; true without a version. */
export function stillAt(updatedAt: SQL, version: Version | undefined): SQL {
  if (version === undefined) return sql`true`;
  return sql`date_trunc('milliseconds', ${updatedAt}) = ${version.updatedAt}::timestamptz`;
}
