/**
 * The real-PostgreSQL engine: a node-postgres pool, so concurrent HTTP requests run in
 * parallel on separate sessions, as they do behind Neon's proxy.
 */
import pg from 'pg';
import {
  startTransactionSql,
  toFieldDescription,
  toPostgresError,
  type QueryResult,
  type SqlEngine,
  type SqlQuery,
  type TransactionMode,
} from './engine.ts';

// Return every value as Postgres text output: the Neon client parses it itself.
const textOutput = { getTypeParser: () => (value: string) => value };

async function runExtended(client: pg.PoolClient, { query, params }: SqlQuery): Promise<QueryResult> {
  try {
    const result = await client.query({
      text: query,
      values: params as (string | null)[],
      rowMode: 'array',
      types: textOutput,
      // Force Parse/Bind/Execute even without params, so multi-statement strings fail as on Neon.
      queryMode: 'extended',
    } as pg.QueryArrayConfig);
    return {
      fields: result.fields.map(toFieldDescription),
      rows: result.rows as (string | null)[][],
      command: result.command ?? '',
      rowCount: result.rowCount ?? null,
    };
  } catch (error) {
    throw toPostgresError(error) ?? error;
  }
}

/**
 * Connects a pool to `connectionString`.
 * @param max - the most sessions open at once (Neon's proxy pools too).
 */
export function connectPostgres(connectionString: string, max = 20): SqlEngine {
  const pool = new pg.Pool({ connectionString, max, idleTimeoutMillis: 10_000, connectionTimeoutMillis: 5_000 });
  // An idle session dropped by the server must not crash the stand-in.
  pool.on('error', () => {});

  /**
   * Runs `work` on a pooled session. Like Neon, the session is reset after the answer is
   * ready (in the background, off the request's path) so nothing leaks to the next request;
   * a session whose statement failed is discarded instead.
   */
  async function withSession<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await pool.connect();
    // A session ended by the server mid-request (pg_terminate_backend, a restart) fails its query with
    // the server's error (57P01…); the socket's own error event must not crash the stand-in.
    if (client.listenerCount('error') === 0) client.on('error', () => {});
    let result: T;
    try {
      result = await work(client);
    } catch (error) {
      client.release(true);
      throw error;
    }
    client.query('DISCARD ALL').then(
      () => client.release(),
      (error: Error) => client.release(error),
    );
    return result;
  }

  return {
    kind: 'postgres',
    query: (query) => withSession((client) => runExtended(client, query)),
    transaction: (queries, mode: TransactionMode) =>
      withSession(async (client) => {
        await client.query(startTransactionSql(mode));
        try {
          const results: QueryResult[] = [];
          for (const query of queries) results.push(await runExtended(client, query));
          await client.query('COMMIT').catch((error: unknown) => {
            throw toPostgresError(error) ?? error;
          });
          return results;
        } catch (error) {
          await client.query('ROLLBACK').catch(() => {});
          throw error;
        }
      }),
    close: () => pool.end(),
  };
}
