/**
 * Committing a staged upload: every row in one SQL statement, so in one transaction.
 *
 * The statement re-checks the rows against the database as it is now (ids taken meanwhile,
 * owners deleted meanwhile) and writes nothing if any row conflicts; otherwise it claims the
 * upload in `upload_commits` and writes the rows and their ownership history. The claim gates
 * the writes: a concurrent commit of the same upload waits on the claim's key, finds it taken
 * and writes nothing; a repeated one finds the recorded result. So an upload is applied exactly
 * once, whatever happens to Redis around it.
 *
 * Rows travel as one array-literal parameter per column (see `chunks.ts`). An upload that fits
 * one request (≤ {@link CHUNKS_PER_PART} chunks, 8 MiB: about 150,000 typical Pokémon rows) is
 * committed in that one request. A larger one is first sent in parts to `upload_parts` (not data
 * yet), then the same single statement reads them from there: still one transaction.
 */
import { eq, sql, type SQL } from 'drizzle-orm';
import { uploadCommits, uploadParts } from '../../db/uploads-schema.ts';
import type { Redis } from '../../platform/redis.ts';
import { retryOnSqlState, SQLSTATE, type Database } from '../../platform/database.ts';
import { DomainError } from '../errors.ts';
import { CHUNK_BYTES, CHUNKS_PER_PART, joinChunks, type Chunk } from './chunks.ts';
import type { UploadType } from './kinds.ts';
import { MAX_LISTED_ERRORS } from './stage.ts';
import { markCommitted, readChunks, readMetaAndChunks, type UploadMeta } from './staging.ts';

/** A row the database refused at commit time. */
export interface Conflict {
  id: string;
  column: string;
  value: string;
  detail: string;
}

/** What `upload_commits` recorded for an upload. */
type Recorded = Pick<typeof uploadCommits.$inferSelect, 'inserted' | 'updated' | 'committedAt'>;

/** {@link Recorded} as the commit statement reports it (`row_to_json`: the timestamp is text). */
type RecordedJson = { inserted: number; updated: number; committed_at: string };

type CommitRow = {
  /** The upload was committed before this statement started. */
  done: RecordedJson | null;
  /** This statement committed it. */
  claimed: RecordedJson | null;
  conflict_count: number;
  conflicts: Conflict[];
  rows: number;
};

/** The staged columns as Postgres reads them: name and type, in staged order. */
const INPUT_COLUMNS: Record<UploadType, [name: string, type: string][]> = {
  trainer: [
    ['id', 'text'],
    ['first_name', 'text'],
    ['last_name', 'text'],
    ['date_of_birth', 'date'],
  ],
  pokemon: [
    ['id', 'text'],
    ['nickname', 'text'],
    ['species', 'text'],
    ['level', 'int'],
    ['owner_id', 'text'],
    ['date_of_ownership', 'date'],
  ],
};

const expired = (id: string) => new DomainError('not-found', `There is no staged upload "${id}" (it may have expired).`);

/** Where the statement reads the rows from: parameters, or parts sent earlier. */
type RowSource = { params: string[] } | { parts: true };

function inputQuery(type: UploadType, uploadId: string, source: RowSource): SQL {
  const columns = INPUT_COLUMNS[type];
  const alias = sql.raw(`r(${columns.map(([name]) => name).join(', ')})`);
  if ('params' in source) {
    const arrays = columns.map(([, pgType], i) => sql`${source.params[i]}::${sql.raw(pgType)}[]`);
    return sql`SELECT * FROM unnest(${sql.join(arrays, sql`, `)}) AS ${alias}`;
  }
  const arrays = columns.map(([, pgType], i) => sql.raw(`p.columns[${i + 1}]::${pgType}[]`));
  return sql`SELECT r.* FROM ${uploadParts} p, unnest(${sql.join(arrays, sql`, `)}) AS ${alias} WHERE p.upload_id = ${uploadId}`;
}

/** `existing`, `conflicts` and the writes (gated on `claim`) for trainers. */
function trainerCtes(update: boolean) {
  return {
    checks: sql`
      existing AS MATERIALIZED (SELECT t.id FROM trainers t WHERE t.id IN (SELECT id FROM input) ORDER BY t.id FOR UPDATE),
      conflicts AS (
        SELECT e.id, 'id' AS column, e.id AS value, 'already exists' AS detail FROM existing e WHERE ${sql.raw(String(!update))}
        UNION ALL
        -- An updated trainer cannot be born after they came to own a Pokémon (the locks above keep their Pokémon still).
        SELECT i.id, 'dateOfBirth', i.date_of_birth::text, 'is after the date this trainer came to own one of their Pokémon'
        FROM input i WHERE EXISTS (SELECT 1 FROM existing e WHERE e.id = i.id)
          AND EXISTS (SELECT 1 FROM pokemon p WHERE p.owner_id = i.id AND p.date_of_ownership < i.date_of_birth)
      )`,
    writes: sql`
      written AS (
        INSERT INTO trainers (id, first_name, last_name, date_of_birth)
        SELECT id, first_name, last_name, date_of_birth FROM input WHERE EXISTS (SELECT 1 FROM claim) ORDER BY id
        ${update ? sql`ON CONFLICT (id) DO UPDATE SET first_name = excluded.first_name, last_name = excluded.last_name,
          date_of_birth = excluded.date_of_birth, updated_at = now()` : sql``}
        RETURNING id
      )`,
  };
}

/** The same for Pokémon, whose every new owner also gets an ownership-history row. */
function pokemonCtes(update: boolean) {
  return {
    checks: sql`
      -- Locked in id order (as trades lock them): the owner read here is the latest, not the snapshot's.
      existing AS MATERIALIZED (
        SELECT p.id, p.owner_id, p.date_of_ownership FROM pokemon p WHERE p.id IN (SELECT id FROM input) ORDER BY p.id FOR UPDATE
      ),
      -- A species cell is staged as a slug or as a dex number's digits (see kinds.ts): one key table, one join.
      species_keys AS (SELECT slug AS key, dex_number FROM species UNION ALL SELECT dex_number::text, dex_number FROM species),
      resolved AS (SELECT i.*, k.dex_number FROM input i LEFT JOIN species_keys k ON k.key = i.species),
      conflicts AS (
        SELECT e.id, 'id' AS column, e.id AS value, 'already exists' AS detail FROM existing e WHERE ${sql.raw(String(!update))}
        UNION ALL
        SELECT r.id, 'species', r.species, 'is not a species in the Pokédex' FROM resolved r WHERE r.dex_number IS NULL
        UNION ALL
        SELECT i.id, 'owner', i.owner_id, 'is not the id of a trainer' FROM input i
        WHERE NOT EXISTS (SELECT 1 FROM trainers t WHERE t.id = i.owner_id)
        UNION ALL
        -- An update never moves a Pokémon or rewrites when it was acquired: ownership changes only through exchanges.
        SELECT i.id, 'owner', i.owner_id, 'is not the current owner; ownership changes only through exchanges'
        FROM input i JOIN existing e ON e.id = i.id WHERE e.owner_id <> i.owner_id
        UNION ALL
        SELECT i.id, 'dateOfOwnership', i.date_of_ownership::text, 'differs from the recorded date; ownership changes only through exchanges'
        FROM input i JOIN existing e ON e.id = i.id WHERE e.owner_id = i.owner_id AND e.date_of_ownership <> i.date_of_ownership
        UNION ALL
        SELECT i.id, 'dateOfOwnership', i.date_of_ownership::text, 'is before the owner''s date of birth'
        FROM input i JOIN trainers t ON t.id = i.owner_id WHERE i.date_of_ownership < t.date_of_birth
      )`,
    writes: sql`
      written AS (
        INSERT INTO pokemon (id, nickname, species_number, level, owner_id, date_of_ownership)
        -- In id order, so rows are locked in the order trades lock them (no deadlock cycles).
        SELECT id, nickname, dex_number, level, owner_id, date_of_ownership FROM resolved WHERE EXISTS (SELECT 1 FROM claim) ORDER BY id
        ${update ? sql`ON CONFLICT (id) DO UPDATE SET nickname = excluded.nickname, species_number = excluded.species_number,
          level = excluded.level, owner_id = excluded.owner_id, date_of_ownership = excluded.date_of_ownership, updated_at = now()` : sql``}
        RETURNING id, owner_id, date_of_ownership
      ),
      history AS (
        INSERT INTO ownership_history (pokemon_id, trainer_id, acquired_on, source)
        SELECT w.id, w.owner_id, w.date_of_ownership, 'uploaded' FROM written w
        ${update ? sql`LEFT JOIN existing e ON e.id = w.id WHERE e.id IS NULL OR e.owner_id <> w.owner_id` : sql``}
      )`,
  };
}

/** The commit statement: check, claim, write, and (for parts) clean up, in one round trip. */
async function runCommit(db: Database, meta: UploadMeta, source: RowSource): Promise<CommitRow> {
  const { checks, writes } = (meta.type === 'trainer' ? trainerCtes : pokemonCtes)(meta.onConflict === 'update');
  const cleanup = 'parts' in source
    ? sql`, cleanup AS (DELETE FROM ${uploadParts} WHERE upload_id = ${meta.id} OR created_at < now() - interval '1 day')`
    : sql``;
  const result = await db.execute<CommitRow>(sql`
    WITH done AS (SELECT inserted, updated, committed_at FROM ${uploadCommits} WHERE upload_id = ${meta.id}),
    input AS MATERIALIZED (${inputQuery(meta.type, meta.id, source)}),
    ${checks},
    claim AS (
      INSERT INTO ${uploadCommits} (upload_id, type, inserted, updated)
      SELECT ${meta.id}, ${meta.type}, c.rows - c.existing, c.existing
      FROM (SELECT (SELECT count(*) FROM input) AS rows, (SELECT count(*) FROM existing) AS existing) c
      WHERE c.rows = ${meta.rows} AND NOT EXISTS (SELECT 1 FROM done) AND NOT EXISTS (SELECT 1 FROM conflicts)
      ON CONFLICT (upload_id) DO NOTHING
      RETURNING inserted, updated, committed_at
    ),
    ${writes}
    ${cleanup}
    SELECT (SELECT row_to_json(d) FROM done d) AS done,
           (SELECT row_to_json(c) FROM claim c) AS claimed,
           (SELECT count(*)::int FROM conflicts) AS conflict_count,
           (SELECT coalesce(json_agg(x), '[]') FROM (SELECT * FROM conflicts LIMIT ${MAX_LISTED_ERRORS}) x) AS conflicts,
           (SELECT count(*)::int FROM input) AS rows`);
  return result.rows[0]!;
}

/**
 * Runs the statement; if a row it checked was taken or removed by a concurrent transaction
 * before it wrote (the database refuses with a unique or foreign-key violation, and rolls back),
 * or it lost a deadlock, runs it once more: it then sees that transaction's rows and lists
 * every conflict.
 */
function commitOnce(db: Database, meta: UploadMeta, source: RowSource): Promise<CommitRow> {
  const raced = [SQLSTATE.uniqueViolation, SQLSTATE.foreignKeyViolation, SQLSTATE.deadlockDetected];
  return retryOnSqlState(raced, 2, () => runCommit(db, meta, source));
}

/**
 * Sends an upload too large for one request to `upload_parts`, a part (one round trip to each
 * service) at a time: one part in memory at once (reading the next one ahead would hold two).
 */
async function sendParts(db: Database, redis: Redis, meta: UploadMeta, first: { chunks: Chunk[] }): Promise<RowSource> {
  const width = INPUT_COLUMNS[meta.type].length;
  for (let part = 0, from = 0; from < meta.chunks; part += 1, from += CHUNKS_PER_PART) {
    // Only a part's column literals are held while it is sent: its chunks are dropped once joined (the first part's too: `first` is emptied).
    const literals = partLiterals(part === 0 ? first.chunks : await readChunks(redis, meta.id, from, CHUNKS_PER_PART), Math.min(CHUNKS_PER_PART, meta.chunks - from), meta.id, width);
    first.chunks = [];
    const columns = literals.map((literal) => sql`${literal}`);
    await db.execute(sql`
      INSERT INTO ${uploadParts} (upload_id, part, columns) VALUES (${meta.id}, ${part}, ARRAY[${sql.join(columns, sql`, `)}]::text[])
      ON CONFLICT (upload_id, part) DO UPDATE SET columns = excluded.columns, created_at = now()`);
  }
  return { parts: true };
}

/** A part's column literals from its `expected` chunks; `not-found` when Redis has fewer (the upload expired meanwhile). */
function partLiterals(chunks: Chunk[], expected: number, id: string, width: number): string[] {
  if (chunks.length !== expected) throw expired(id);
  return joinChunks(chunks, width);
}

/**
 * The database handles a commit uses: `primary` for the small statements, and one for the bulk
 * statement whose timeout fits the upload's staged size.
 */
export interface BulkDatabase {
  primary: Database;
  forBytes(stagedBytes: number): Database;
}

/** An upload as its commit record shows it, when Redis no longer holds its status. */
export type RecordedUpload = Pick<UploadMeta, 'id' | 'type' | 'status' | 'rows' | 'committedAt' | 'inserted' | 'updated'>;

export type UploadStatus = UploadMeta | RecordedUpload;

/** What `upload_commits` says about an upload (one round trip), or `undefined` if it was never committed. */
export async function recordedUpload(db: Database, id: string): Promise<RecordedUpload | undefined> {
  const [row] = await db.select().from(uploadCommits).where(eq(uploadCommits.uploadId, id));
  if (!row) return undefined;
  const { type, inserted, updated, committedAt } = row;
  return { id, type, status: 'committed', rows: inserted + updated, committedAt: committedAt.toISOString(), inserted, updated };
}

function fromJson({ inserted, updated, committed_at }: RecordedJson): Recorded {
  return { inserted, updated, committedAt: new Date(committed_at) };
}

/**
 * Commits a staged upload (see the module comment). Round trips for an upload of up to
 * 8 MiB staged: one to Redis to read it, one statement, one to Redis to record the result.
 * @returns the upload's status, now `committed`.
 * @throws DomainError `not-found` (unknown or expired), `conflict` (rows the database refuses: nothing written, still staged).
 */
export async function commitUpload(bulk: BulkDatabase, redis: Redis, id: string): Promise<UploadStatus> {
  const staged = await readMetaAndChunks(redis, id, CHUNKS_PER_PART);
  const { meta } = staged;
  // Redis forgot the upload (expired, evicted, lost): the database still knows whether it was committed.
  if (!meta) {
    const recorded = await recordedUpload(bulk.primary, id);
    if (!recorded) throw expired(id);
    return recorded;
  }
  if (meta.status === 'committed') return meta;
  if (meta.status === 'receiving') {
    throw new DomainError('conflict', `Upload "${id}" is still receiving pieces (${meta.offset} bytes so far): send the last one (Upload-Complete: ?1) before committing.`, {
      uploadOffset: meta.offset,
    });
  }
  const db = bulk.forBytes(meta.chunks * CHUNK_BYTES);
  const width = INPUT_COLUMNS[meta.type].length;
  let source: RowSource;
  if (meta.chunks <= CHUNKS_PER_PART) {
    source = { params: partLiterals(staged.chunks, meta.chunks, id, width) };
    // The literals are what the statement sends: the chunks they were joined from are not held while it runs.
    staged.chunks = [];
  } else {
    source = await sendParts(db, redis, meta, staged);
  }
  const row = await commitOnce(db, meta, source);
  if (!row.done && !row.claimed && row.conflict_count > 0) {
    throw new DomainError(
      'conflict',
      `${row.conflict_count} row${row.conflict_count === 1 ? '' : 's'} conflict with the database now; nothing was written. ` +
        'The upload is still staged: fix the data and commit again.',
      { uploadId: id, conflicts: row.conflicts, conflictCount: row.conflict_count },
    );
  }
  const reported = row.done ?? row.claimed;
  const recorded = reported ? fromJson(reported) : await recordedUpload(db, id);
  if (!recorded) throw new DomainError('conflict', `The staged rows of upload "${id}" changed while committing; nothing was written. Commit again.`);
  const committed: UploadMeta = {
    ...meta,
    status: 'committed',
    committedAt: new Date(recorded.committedAt!).toISOString(),
    inserted: recorded.inserted,
    updated: recorded.updated,
  };
  await markCommitted(redis, committed);
  return committed;
}
