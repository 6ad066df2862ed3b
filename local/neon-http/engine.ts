/**
 * The contract between the Neon SQL-over-HTTP server and the database behind it.
 * Two engines implement it: a pooled real PostgreSQL and an embedded PGlite.
 */

/** One statement as the Neon client sends it: text plus text-encoded parameters. */
export interface SqlQuery {
  readonly query: string;
  readonly params: readonly (string | null)[];
}

/** A column description, exactly the seven keys of Postgres's RowDescription. */
export interface FieldDescription {
  name: string;
  dataTypeID: number;
  tableID: number;
  columnID: number;
  dataTypeSize: number;
  dataTypeModifier: number;
  format: 'text';
}

/** Copies the seven RowDescription keys (drivers add others of their own). */
export function toFieldDescription(field: Omit<FieldDescription, 'format'>): FieldDescription {
  const { name, dataTypeID, tableID, columnID, dataTypeSize, dataTypeModifier } = field;
  return { name, dataTypeID, tableID, columnID, dataTypeSize, dataTypeModifier, format: 'text' };
}

/** A statement's result with every value in Postgres text output (or null). */
export interface QueryResult {
  fields: FieldDescription[];
  rows: (string | null)[][];
  command: string;
  rowCount: number | null;
}

export type IsolationLevel = 'ReadUncommitted' | 'ReadCommitted' | 'RepeatableRead' | 'Serializable';

/** Options for a batch, from the `Neon-Batch-*` headers. */
export interface TransactionMode {
  isolationLevel?: IsolationLevel;
  readOnly?: boolean;
  deferrable?: boolean;
}

/** The error fields Postgres reports; they go verbatim into the 400 body. */
export interface PostgresErrorFields {
  message: string;
  severity?: string | undefined;
  code?: string | undefined;
  detail?: string | undefined;
  hint?: string | undefined;
  position?: string | undefined;
  internalPosition?: string | undefined;
  internalQuery?: string | undefined;
  where?: string | undefined;
  schema?: string | undefined;
  table?: string | undefined;
  column?: string | undefined;
  dataType?: string | undefined;
  constraint?: string | undefined;
  file?: string | undefined;
  line?: string | undefined;
  routine?: string | undefined;
}

/** An error raised by the database itself (as opposed to a broken connection). */
export class PostgresError extends Error {
  readonly fields: PostgresErrorFields;
  constructor(fields: PostgresErrorFields) {
    super(fields.message);
    this.fields = fields;
  }
}

export interface SqlEngine {
  /** A short name for logs: `postgres` or `pglite`. */
  readonly kind: string;
  /** Runs one statement in autocommit mode, on a session that carries nothing over from other requests. */
  query(query: SqlQuery): Promise<QueryResult>;
  /** Runs statements in one transaction: all commit, or the first error rolls everything back. */
  transaction(queries: readonly SqlQuery[], mode: TransactionMode): Promise<QueryResult[]>;
  close(): Promise<void>;
}

/** `START TRANSACTION …` exactly as Neon's proxy builds it from the batch headers. */
export function startTransactionSql(mode: TransactionMode): string {
  const isolation: Record<IsolationLevel, string> = {
    ReadUncommitted: 'READ UNCOMMITTED',
    ReadCommitted: 'READ COMMITTED',
    RepeatableRead: 'REPEATABLE READ',
    Serializable: 'SERIALIZABLE',
  };
  const clauses: string[] = [];
  if (mode.isolationLevel) clauses.push(`ISOLATION LEVEL ${isolation[mode.isolationLevel]}`);
  if (mode.readOnly) clauses.push('READ ONLY');
  if (mode.deferrable) clauses.push('DEFERRABLE');
  return clauses.length ? `START TRANSACTION ${clauses.join(', ')}` : 'START TRANSACTION';
}

/** Splits a CommandComplete tag (`INSERT 0 5`, `SELECT 3`, `CREATE TABLE`) into command and row count. */
export function parseCommandTag(tag: string | undefined): { command: string; rowCount: number | null } {
  if (!tag) return { command: '', rowCount: null };
  const words = tag.split(' ');
  const last = words[words.length - 1] ?? '';
  return { command: words[0] ?? '', rowCount: /^\d+$/.test(last) ? Number(last) : null };
}

/** Copies the standard error fields off a driver error (pg and PGlite use the same names). */
export function toPostgresError(error: unknown): PostgresError | undefined {
  // Only server-reported errors carry a severity; socket errors (ECONNREFUSED…) do not.
  if (!(error instanceof Error) || typeof (error as { severity?: unknown }).severity !== 'string') return undefined;
  const e = error as Error & Omit<PostgresErrorFields, 'message'>;
  return new PostgresError({
    message: e.message,
    severity: e.severity,
    code: e.code,
    detail: e.detail,
    hint: e.hint,
    position: e.position,
    internalPosition: e.internalPosition,
    internalQuery: e.internalQuery,
    where: e.where,
    schema: e.schema,
    table: e.table,
    column: e.column,
    dataType: e.dataType,
    constraint: e.constraint,
    file: e.file,
    line: e.line,
    routine: e.routine,
  });
}

/**
 * A read-only view of `engine`, standing in for a read replica of the same database: every
 * single query runs inside `START TRANSACTION READ ONLY … COMMIT` and every batch is forced
 * READ ONLY, so a write fails with SQLSTATE 25006, as on a real standby. It shares the
 * engine (and so PGlite's queue); there is no replication lag. Closing it closes nothing:
 * the primary owns the engine.
 */
export function readOnly(engine: SqlEngine): SqlEngine {
  return {
    kind: `${engine.kind} (read-only)`,
    query: async (query) => {
      const [result] = await engine.transaction([query], { readOnly: true });
      return result!;
    },
    transaction: (queries, mode) => engine.transaction(queries, { ...mode, readOnly: true }),
    close: async () => {},
  };
}
