/**
 * The database side of upload validation: which ids already exist, which owners are missing,
 * which species the Pokédex knows — for a whole batch of rows in one query.
 */
import { sql } from 'drizzle-orm';
import { pokemon, species, trainers } from '../../db/schema.ts';
import type { Database } from '../../platform/database.ts';
import { arrayLiteral } from './chunks.ts';
import type { UploadType } from './kinds.ts';

export interface ReferenceBatch {
  /** Ids to look for among existing rows of the upload's type. */
  ids: string[];
  /** Owner ids (Pokémon uploads). */
  owners: string[];
  /** Species slugs (Pokémon uploads). */
  slugs: string[];
}

export interface ReferenceFacts {
  existingIds: string[];
  missingOwners: string[];
  /** Slug → Pokédex name, for the slugs that exist. */
  speciesNames: Record<string, string>;
}

/** Looks up a batch in one round trip; each list travels as one array parameter. */
export async function lookUpReferences(db: Database, type: UploadType, batch: ReferenceBatch): Promise<ReferenceFacts> {
  const table = type === 'trainer' ? trainers : pokemon;
  const result = await db.execute<{ existing: string[]; missing_owners: string[]; species: Record<string, string> | null }>(sql`
    SELECT
      ARRAY(SELECT id FROM ${table} WHERE id IN (SELECT unnest(${arrayLiteral(batch.ids)}::text[]))) AS existing,
      ARRAY(SELECT o FROM unnest(${arrayLiteral(batch.owners)}::text[]) AS o
            WHERE NOT EXISTS (SELECT 1 FROM ${trainers} t WHERE t.id = o)) AS missing_owners,
      (SELECT json_object_agg(slug, name) FROM ${species} WHERE slug IN (SELECT unnest(${arrayLiteral(batch.slugs)}::text[]))) AS species`);
  const row = result.rows[0]!;
  return { existingIds: row.existing, missingOwners: row.missing_owners, speciesNames: row.species ?? {} };
}
