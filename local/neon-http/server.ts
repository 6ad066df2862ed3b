/**
 * A local server for Neon's SQL-over-HTTP protocol (`POST /sql`), so the unmodified
 * `@neondatabase/serverless` `neon()` client reaches a local database. Statuses, headers
 * and bodies follow Neon's proxy.
 *
 * It serves a fixed set of databases, each named by a connection string: a request goes to
 * the one whose host and database its `Neon-Connection-String` names, and only with that
 * string's user and password. No CORS grants: only same-machine, non-browser clients.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BodyTooLargeError, delay, listen, readBody, sendJson, type RunningServer } from '../http.ts';
import {
  PostgresError,
  type IsolationLevel,
  type PostgresErrorFields,
  type QueryResult,
  type SqlEngine,
  type SqlQuery,
  type TransactionMode,
} from './engine.ts';

/** Neon's limit for both the request body and the accumulated rows of a response. */
export const NEON_SIZE_LIMIT = 10 * 1024 * 1024;

/** The error body's keys after `message`, in the order Neon's proxy writes them. */
const ERROR_KEYS = [
  'code', 'detail', 'hint', 'position', 'internalPosition', 'internalQuery', 'severity', 'where',
  'table', 'column', 'schema', 'dataType', 'constraint', 'file', 'line', 'routine',
] as const satisfies readonly (keyof PostgresErrorFields)[];

const ISOLATION_LEVELS: readonly IsolationLevel[] = ['ReadUncommitted', 'ReadCommitted', 'RepeatableRead', 'Serializable'];

/** A failure answered with Neon's error body: the full key set, DB fields or nulls. */
class HttpError extends Error {
  readonly status: number;
  readonly fields: Partial<PostgresErrorFields>;
  constructor(status: number, message: string, fields: Partial<PostgresErrorFields> = {}) {
    super(message);
    this.status = status;
    this.fields = fields;
  }
}

function errorBody(message: string, fields: Partial<PostgresErrorFields>): Record<string, string | null> {
  const body: Record<string, string | null> = { message };
  for (const key of ERROR_KEYS) body[key] = fields[key] ?? null;
  // Non-database errors carry empty strings here, as Neon sends them.
  body.code ??= '';
  body.severity ??= '';
  return body;
}

/** One database the stand-in serves: the connection string clients use for it, and its engine. */
export interface NeonDatabase {
  /** `postgresql://user:password@host/database`; clients must send this user, password, host and database. */
  connectionString: string;
  engine: SqlEngine;
}

interface Route {
  user: string;
  password: string;
  host: string;
  database: string;
  engine: SqlEngine;
}

const routeKey = (host: string, database: string) => `${host.toLowerCase()}/${database}`;

/** The parts of a connection string that pick and admit a database (URL-decoded, as Neon reads them). */
function parseConnectionString(text: string): Omit<Route, 'engine'> {
  let url: URL;
  try {
    url = new URL(text);
  } catch (error) {
    throw new HttpError(400, `invalid connection string: ${(error as Error).message}`);
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') throw new HttpError(400, 'incorrect scheme');
  const database = decodeURIComponent(url.pathname.replace(/^\//, '').split('/')[0] ?? '');
  if (!database) throw new HttpError(400, 'missing database name');
  if (!url.username) throw new HttpError(400, 'missing username');
  if (!url.password) throw new HttpError(400, 'missing authentication credentials: required password');
  return {
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    host: url.hostname,
    database,
  };
}

function buildRoutes(databases: readonly NeonDatabase[]): Map<string, Route> {
  const routes = new Map<string, Route>();
  for (const { connectionString, engine } of databases) {
    const parts = parseConnectionString(connectionString);
    const key = routeKey(parts.host, parts.database);
    if (routes.has(key)) throw new Error(`startNeonHttp: two databases at ${key}`);
    routes.set(key, { ...parts, engine });
  }
  return routes;
}

/**
 * Picks the database `Neon-Connection-String` names, checking it the way Neon's proxy does.
 * Neon answers an unknown endpoint and a wrong user or password alike: 400,
 * `password authentication failed for user '<user>'`, with no SQLSTATE (the proxy, not
 * Postgres, refuses it). A known host with an unknown database gets Postgres's own
 * `database "…" does not exist` (3D000), which Neon relays as a 500.
 */
function route(routes: Map<string, Route>, header: string | string[] | undefined): Route {
  if (typeof header !== 'string' || header === '') throw new HttpError(400, 'invalid header: neon-connection-string');
  const wanted = parseConnectionString(header);
  const passwordFailed = () => new HttpError(400, `password authentication failed for user '${wanted.user}'`);
  const onHost = [...routes.values()].filter((r) => r.host.toLowerCase() === wanted.host.toLowerCase());
  if (!onHost.some((r) => r.user === wanted.user && r.password === wanted.password)) throw passwordFailed();
  const found = routes.get(routeKey(wanted.host, wanted.database));
  if (!found) {
    throw new HttpError(500, `database "${wanted.database}" does not exist`, {
      code: '3D000',
      severity: 'FATAL',
      file: 'postinit.c',
      routine: 'InitPostgres',
    });
  }
  if (found.user !== wanted.user || found.password !== wanted.password) throw passwordFailed();
  return found;
}

/** Converts a JSON parameter to Postgres text, as Neon's `json_to_pg_text` does. */
function toPgText(value: unknown): string | null {
  if (value === null) return null;
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) {
    const items = value.map((item) =>
      item === null ? 'NULL' : Array.isArray(item) ? toPgText(item) : JSON.stringify(typeof item === 'string' ? item : JSON.stringify(item)),
    );
    return `{${items.join(',')}}`;
  }
  return JSON.stringify(value);
}

function parseQuery(value: unknown, where: string): SqlQuery {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new HttpError(400, `could not parse the HTTP request body: ${where} must be an object with "query"`);
  }
  const { query, params = [] } = value as { query?: unknown; params?: unknown };
  if (typeof query !== 'string') throw new HttpError(400, `could not parse the HTTP request body: ${where}.query must be a string`);
  if (!Array.isArray(params)) throw new HttpError(400, `could not parse the HTTP request body: ${where}.params must be an array`);
  return { query, params: params.map(toPgText) };
}

type Payload = { kind: 'single'; query: SqlQuery } | { kind: 'batch'; queries: SqlQuery[] };

function parsePayload(body: Buffer): Payload {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new HttpError(400, `could not parse the HTTP request body: ${(error as Error).message}`);
  }
  if (typeof json === 'object' && json !== null && 'queries' in json) {
    const { queries } = json as { queries: unknown };
    if (!Array.isArray(queries)) throw new HttpError(400, 'could not parse the HTTP request body: "queries" must be an array');
    return { kind: 'batch', queries: queries.map((q, i) => parseQuery(q, `queries[${i}]`)) };
  }
  return { kind: 'single', query: parseQuery(json, 'body') };
}

function transactionMode(req: IncomingMessage): TransactionMode {
  const level = req.headers['neon-batch-isolation-level'];
  if (level !== undefined && !ISOLATION_LEVELS.includes(level as IsolationLevel)) {
    throw new HttpError(400, 'invalid isolation level');
  }
  return {
    isolationLevel: level as IsolationLevel | undefined,
    readOnly: req.headers['neon-batch-read-only'] === 'true',
    deferrable: req.headers['neon-batch-deferrable'] === 'true',
  };
}

/** Serializes a result, refusing (507) once its rows pass Neon's response limit. */
function toJson(result: QueryResult, arrayMode: boolean, budget: { left: number }): unknown {
  for (const row of result.rows) {
    for (const value of row) budget.left -= value === null ? 4 : Buffer.byteLength(value) + 3;
    if (budget.left < 0) throw new HttpError(507, `response is too large (max is ${NEON_SIZE_LIMIT} bytes)`);
  }
  const rows = arrayMode
    ? result.rows
    : result.rows.map((row) => Object.fromEntries(result.fields.map((f, i) => [f.name, row[i] ?? null])));
  return { fields: result.fields, rows: rows, command: result.command, rowCount: result.rowCount, rowAsArray: arrayMode };
}

async function handleSql(routes: Map<string, Route>, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { engine } = route(routes, req.headers['neon-connection-string']);
  const payload = parsePayload(await readBody(req, NEON_SIZE_LIMIT));
  const arrayMode = req.headers['neon-array-mode'] === 'true';
  const budget = { left: NEON_SIZE_LIMIT };
  const headers: Record<string, string> = { 'Neon-Request-Id': randomUUID() };
  if (payload.kind === 'single') {
    sendJson(res, 200, toJson(await engine.query(payload.query), arrayMode, budget), headers);
    return;
  }
  const mode = transactionMode(req);
  const results = await engine.transaction(payload.queries, mode);
  if (mode.readOnly) headers['Neon-Batch-Read-Only'] = 'true';
  if (mode.deferrable) headers['Neon-Batch-Deferrable'] = 'true';
  if (mode.isolationLevel) headers['Neon-Batch-Isolation-Level'] = mode.isolationLevel;
  sendJson(res, 200, { results: results.map((r) => toJson(r, arrayMode, budget)) }, headers);
}

export interface NeonHttpOptions {
  /** The databases served, each reached only through its own connection string. */
  databases: readonly NeonDatabase[];
  port?: number;
  host?: string;
  /** Simulated distance: wait this long (a timer) before answering each request; 0 or omitted: none. */
  delayMs?: number;
}

/**
 * Starts the stand-in; the client's `neonConfig.fetchEndpoint` should be `<url>/sql`. The
 * engines stay open when the server closes: the caller owns them.
 */
export function startNeonHttp({ databases, port, host, delayMs = 0 }: NeonHttpOptions): Promise<RunningServer> {
  const routes = buildRoutes(databases);
  return listen(async (req, res) => {
    if (delayMs > 0) await delay(delayMs);
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    // Neon answers preflights with a CORS grant; this stand-in grants nothing to browsers.
    if (path !== '/sql' || req.method !== 'POST') {
      sendJson(res, 400, 'query is not supported');
      return;
    }
    try {
      await handleSql(routes, req, res);
    } catch (error) {
      if (error instanceof PostgresError) sendJson(res, 400, errorBody(error.message, error.fields));
      else if (error instanceof HttpError) sendJson(res, error.status, errorBody(error.message, error.fields));
      else if (error instanceof BodyTooLargeError) sendJson(res, 413, errorBody(error.message, {}));
      // The database could not be reached: Neon answers 500 with the error's text.
      else sendJson(res, 500, errorBody(String((error as Error)?.message ?? error), {}));
    }
  }, port, host);
}
