/**
 * The API as the CLI sees it: every request carries the key, and every way a request can fail
 * becomes a {@link CliError} with one line to print and the exit code it means.
 */

/** Exit codes (documented in the README and `pokemon --help`). */
export const EXIT = {
  ok: 0,
  /** The API refused the request: invalid rows, a conflict, no such upload, a server error. */
  refused: 1,
  /** Bad command line, or a local file that cannot be read or written. */
  usage: 2,
  /** The API refused the key (401 or 403). */
  auth: 3,
  /** The API could not be reached (connection refused, reset, DNS, timeout), after retries where they apply. */
  network: 4,
} as const;

export class CliError extends Error {
  readonly exitCode: number;
  /** Extra output (a table of row errors) printed before the message. */
  readonly details: string | undefined;

  constructor(message: string, exitCode: number, details?: string) {
    super(message);
    this.exitCode = exitCode;
    this.details = details;
  }
}

/** An RFC 9457 problem as the API sends it, with the extensions the CLI reads. */
export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  errors?: { line?: number; column?: string; value?: string; detail?: string; message?: string; parameter?: string; pointer?: string }[];
  errorCount?: number;
  conflicts?: { id: string; column: string; value: string; detail: string }[];
  conflictCount?: number;
}

export interface ApiOptions {
  url: string;
  key: string | undefined;
}

export class Api {
  readonly base: URL;
  private readonly options: ApiOptions;

  constructor(options: ApiOptions) {
    this.options = options;
    try {
      this.base = new URL(options.url.endsWith('/') ? options.url : `${options.url}/`);
    } catch {
      throw new CliError(`--url: "${options.url}" is not a URL`, EXIT.usage);
    }
  }

  /** Sends a request; a network failure becomes a CliError ({@link EXIT.network}), a refused key too ({@link EXIT.auth}). */
  async request(path: string | URL, init: RequestInit & { duplex?: 'half' } = {}): Promise<Response> {
    // A path is relative to the base URL (which may have a path of its own); a URL (a `Location`) is used as it is.
    const url = path instanceof URL ? path : new URL(path.replace(/^\//, ''), this.base);
    const headers = new Headers(init.headers);
    if (this.options.key) headers.set('Authorization', `Bearer ${this.options.key}`);
    let response: Response;
    try {
      response = await fetch(url, { ...init, headers });
    } catch (error) {
      throw networkError(url, error);
    }
    if (response.status === 401 || response.status === 403) {
      const problem = await readProblem(response);
      const reason = problem.detail ?? problem.title ?? response.statusText;
      throw new CliError(
        `${this.options.key ? 'The API refused the key' : 'The API needs a key (--key or POKEMON_API_KEY)'} (${response.status}): ${reason}`,
        EXIT.auth,
      );
    }
    return response;
  }

  /** A request whose answer must be `expected` (JSON body returned); anything else is a CliError. */
  async json<T>(path: string, init: RequestInit = {}, expected: number[] = [200]): Promise<T> {
    const response = await this.request(path, init);
    if (!expected.includes(response.status)) throw await refusal(response);
    return (await response.json()) as T;
  }
}

/** One line for a request that never got an answer. */
export function networkError(url: URL, error: unknown): CliError {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  const code = (cause as { code?: string } | undefined)?.code;
  const message = cause instanceof Error ? cause.message : String(cause);
  return new CliError(`Cannot reach ${url.origin}: ${code && !message.includes(code) ? `${code} ` : ''}${message}`, EXIT.network);
}

export async function readProblem(response: Response): Promise<Problem> {
  const text = await response.text().catch(() => '');
  try {
    return JSON.parse(text) as Problem;
  } catch {
    return { status: response.status, detail: text.trim().slice(0, 200) || response.statusText };
  }
}

/** The CliError for an answer the CLI did not ask for: the problem's detail, row errors as a table. */
export async function refusal(response: Response): Promise<CliError> {
  const problem = await readProblem(response);
  const summary = `${response.status} ${problem.title ?? response.statusText}: ${problem.detail ?? ''}`.trim();
  return new CliError(summary, EXIT.refused, problemTable(problem));
}

/** A problem's row errors (or commit conflicts) as a table, with a line for those left out. */
export function problemTable(problem: Problem): string | undefined {
  if (problem.errors?.some((error) => error.line !== undefined)) {
    const rows = problem.errors.map((error) => [String(error.line ?? ''), error.column ?? '', error.value ?? '', error.detail ?? error.message ?? '']);
    const more = (problem.errorCount ?? rows.length) - rows.length;
    return table(['line', 'column', 'value', 'problem'], rows) + (more > 0 ? `\n… and ${more} more errors` : '');
  }
  if (problem.errors?.length) {
    return table(['where', 'problem'], problem.errors.map((error) => [error.parameter ?? error.pointer ?? error.column ?? '', error.detail ?? error.message ?? '']));
  }
  if (problem.conflicts?.length) {
    const rows = problem.conflicts.map((conflict) => [conflict.id, conflict.column, conflict.value, conflict.detail]);
    const more = (problem.conflictCount ?? rows.length) - rows.length;
    return table(['id', 'column', 'value', 'problem'], rows) + (more > 0 ? `\n… and ${more} more conflicts` : '');
  }
  return undefined;
}

/**
 * A plain-text table, columns padded to their widest cell. Control characters in values (a
 * line break inside a quoted cell) are shown escaped so that one row stays one line.
 */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const shown = [header, ...rows].map((row) => row.map((cell) => JSON.stringify(cell).slice(1, -1).replaceAll('\\"', '"')));
  const widths = header.map((_, i) => Math.max(...shown.map((row) => [...(row[i] ?? '')].length)));
  const line = (row: readonly string[]) => row.map((cell, i) => cell + ' '.repeat(widths[i]! - [...cell].length)).join('  ').trimEnd();
  return [line(shown[0]!), widths.map((width) => '-'.repeat(width)).join('  '), ...shown.slice(1).map(line)].join('\n');
}
