/**
 * The database side of upload validation: which ids already exist, which owners are missing,
 * which species the Pokédex knows — for a whole batch of rows in one query.
 */
import { sql, type SQL } from 'drizzle-orm';
import { pokemon, species, trainers } from '../../db/schema.ts';
import type { Database } from '../../platform/database.ts';
import { speciesKeyMatches } from '../species.ts';
import { arrayLiteral } from './chunks.ts';
import type { UploadType } from './kinds.ts';

export interface ReferenceBatch {
  /** Ids to look for among existing rows of the upload's type. */
  ids: string[];
  /** Owner ids (Pokémon uploads). */
  owners: string[];
  /** Species cells as staged: slugs, or dex numbers' digits (Pokémon uploads). */
  slugs: string[];
  /**
   * Valid rows' dates, to check against the database: a Pokémon's `dateOfOwnership` with its id
   * and owner (never before the owner's birth; with `onConflict=update`, an existing Pokémon's
   * owner and date unchanged), or a trainer's `dateOfBirth` with its id (with `onConflict=update`,
   * never after the ownership date of a Pokémon they own). Parallel arrays, one entry per row.
   */
  dated: { ids: string[]; owners: string[]; dates: string[] };
}

/** A row that contradicts the database: its id, the values it sent, what the database holds. */
export interface DatedConflict {
  id: string;
  /** Pokémon: the row's owner and date, and the current owner and date (`null` when not an existing Pokémon). */
  owner?: string;
  date: string;
  currentOwner?: string | null;
  currentDate?: string | null;
  /** Pokémon: the owner's date of birth, when the row's date is before it. Trainers: the earliest ownership date after the new birth date. */
  limit?: string | null;
}

export interface ReferenceFacts {
  existingIds: string[];
  dated: DatedConflict[];
  missingOwners: string[];
  /** Staged species cell → Pokédex name, for those that exist. */
  speciesNames: Record<string, string>;
}

/** The rows of `dated` that contradict the database (see {@link ReferenceBatch.dated}). */
function datedConflicts(type: UploadType, { ids, owners, dates }: ReferenceBatch['dated'], update: boolean): SQL {
  if (type === 'trainer') {
    return sql`(SELECT json_agg(json_build_object('id', u.id, 'date', u.date::text, 'limit', f.first::text))
      FROM unnest(${arrayLiteral(ids)}::text[], ${arrayLiteral(dates)}::date[]) AS u(id, date)
      CROSS JOIN LATERAL (SELECT min(p.date_of_ownership) AS first FROM ${pokemon} p WHERE ${update} AND p.owner_id = u.id) f
      WHERE f.first < u.date)`;
  }
  return sql`(SELECT json_agg(json_build_object('id', u.id, 'owner', u.owner, 'date', u.date::text,
        'currentOwner', p.owner_id, 'currentDate', p.date_of_ownership::text, 'limit', t.date_of_birth::text))
      FROM unnest(${arrayLiteral(ids)}::text[], ${arrayLiteral(owners)}::text[], ${arrayLiteral(dates)}::date[]) AS u(id, owner, date)
      LEFT JOIN ${pokemon} p ON ${update} AND p.id = u.id
      LEFT JOIN ${trainers} t ON t.id = u.owner AND u.date < t.date_of_birth
      WHERE t.id IS NOT NULL OR p.owner_id <> u.owner OR p.date_of_ownership <> u.date)`;
}

/** Looks up a batch in one round trip; each list travels as one array parameter. */
export async function lookUpReferences(db: Database, type: UploadType, batch: ReferenceBatch, update: boolean): Promise<ReferenceFacts> {
  const table = type === 'trainer' ? trainers : pokemon;
  const result = await db.execute<{ existing: string[]; dated: DatedConflict[] | null; missing_owners: string[]; species: Record<string, string> | null }>(sql`
    SELECT
      ARRAY(SELECT id FROM ${table} WHERE id IN (SELECT unnest(${arrayLiteral(batch.ids)}::text[]))) AS existing,
      ${datedConflicts(type, batch.dated, update)} AS dated,
      ARRAY(SELECT o FROM unnest(${arrayLiteral(batch.owners)}::text[]) AS o
            WHERE NOT EXISTS (SELECT 1 FROM ${trainers} t WHERE t.id = o)) AS missing_owners,
      (SELECT json_object_agg(k.key, s.name) FROM unnest(${arrayLiteral(batch.slugs)}::text[]) AS k(key)
         JOIN ${species} s ON ${speciesKeyMatches(sql`s`, sql`k.key`)}) AS species`);
  const row = result.rows[0]!;
  return { existingIds: row.existing, dated: row.dated ?? [], missingOwners: row.missing_owners, speciesNames: row.species ?? {} };
}
