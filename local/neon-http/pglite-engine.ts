/**
 * The embedded engine: PGlite (real Postgres compiled to WASM), persisted to a folder so
 * `npm run dev` keeps its data across restarts. PGlite has one session, so every request
 * waits its turn in a queue.
 */
import { PGlite, protocol } from '@electric-sql/pglite';
import { mkdir } from 'node:fs/promises';
import {
  parseCommandTag,
  startTransactionSql,
  toFieldDescription,
  toPostgresError,
  type QueryResult,
  type SqlEngine,
  type SqlQuery,
} from './engine.ts';

type BackendMessage = Awaited<ReturnType<PGlite['execProtocol']>>['messages'][number];
type RowDescription = InstanceType<typeof protocol.messages.RowDescriptionMessage>;
type DataRow = InstanceType<typeof protocol.messages.DataRowMessage>;
type CommandComplete = InstanceType<typeof protocol.messages.CommandCompleteMessage>;

/** Runs one statement over the extended protocol, so we see the raw RowDescription and text values. */
async function runExtended(db: PGlite, { query, params }: SqlQuery): Promise<QueryResult> {
  const { serialize } = protocol;
  const messages: BackendMessage[] = [];
  const send = async (message: Uint8Array) => messages.push(...(await db.execProtocol(message)).messages);
  try {
    await send(serialize.parse({ text: query, types: [] }));
    await send(serialize.bind({ values: params as (string | null)[] }));
    await send(serialize.describe({ type: 'P' }));
    await send(serialize.execute({}));
  } catch (error) {
    throw toPostgresError(error) ?? error;
  } finally {
    await db.execProtocol(serialize.sync());
  }
  const description = messages.find((m): m is RowDescription => m.name === 'rowDescription');
  const complete = messages.find((m): m is CommandComplete => m.name === 'commandComplete');
  return {
    fields: (description?.fields ?? []).map(toFieldDescription),
    rows: messages.filter((m): m is DataRow => m.name === 'dataRow').map((m) => m.fields),
    ...parseCommandTag(complete?.text),
  };
}

/**
 * Opens (creating on first use) a PGlite database.
 * @param dataDir - folder to persist to; omit for a throwaway in-memory database.
 */
export async function openPglite(dataDir?: string): Promise<SqlEngine> {
  if (dataDir) await mkdir(dataDir, { recursive: true });
  const db = await PGlite.create(dataDir);
  let queue: Promise<unknown> = Promise.resolve();
  /** Serializes access: PGlite is a single session. */
  function exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = queue.then(work, work);
    queue = run.catch(() => {});
    return run;
  }
  /** Like Neon's session reset between requests: nothing survives into the next one. */
  async function reset(): Promise<void> {
    await db.exec('ROLLBACK').catch(() => {});
    await db.exec('DISCARD ALL');
  }

  return {
    kind: 'pglite',
    query: (query) =>
      exclusive(async () => {
        try {
          return await runExtended(db, query);
        } finally {
          await reset();
        }
      }),
    transaction: (queries, mode) =>
      exclusive(async () => {
        try {
          await db.exec(startTransactionSql(mode));
          const results: QueryResult[] = [];
          for (const query of queries) results.push(await runExtended(db, query));
          await db.exec('COMMIT').catch((error: unknown) => {
            throw toPostgresError(error) ?? error;
          });
          return results;
        } finally {
          await reset();
        }
      }),
    close: () => db.close(),
  };
}
