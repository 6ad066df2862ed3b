/**
 * The OpenAPI 3.1 document: generated from the routes' zod schemas, then completed here from
 * each operation's traits, by the same rules the middleware follows — so the statuses and
 * headers every operation documents are the ones it can really answer with:
 *
 * - every operation: 401/429 (a key sent is checked, calls are rate limited), 422 (a bad
 *   `X-Bookmark`), 500, 503 (a dependency down, a setting missing); `X-Request-Id`,
 *   `Server-Timing`, `X-Bookmark` and `RateLimit` headers;
 * - needs a key (`requiredScope`): 403; a body: 413, 415 (and 400 for JSON or a form); path parameters: 404;
 *   `If-Match`: 412; `Idempotency-Key`: 409 and `Idempotent-Replayed`; 201: `Location`;
 *   a cached read (the read cache's rule): `ETag`, `Cache-Control`, `If-None-Match` and 304.
 */
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../env.ts';
import { isCacheablePath } from '../platform/read-cache.ts';
import { PROBLEMS, type ProblemCode } from '../platform/problem.ts';
import { PROBLEM_CONTENT, withSecurity } from './security.ts';

type Header = { description: string; required?: boolean; schema: Record<string, unknown> };
type Response = { description: string; headers?: Record<string, Header>; content?: Record<string, unknown> };
type Parameter = { name: string; in: string; required?: boolean; description?: string; schema?: Record<string, unknown> };
type Operation = { parameters?: Parameter[]; requestBody?: { content: Record<string, unknown> }; responses: Record<string, Response>; security?: unknown[] };
type Document = { paths: Record<string, Record<string, Operation>>; components?: Record<string, Record<string, unknown>> };

export const API_NAME = 'Pokémon Trainers API';
export const API_VERSION = '1.0.0';

const TAGS = [
  { name: 'Trainers', description: 'People who own Pokémon. Ids are chosen by the client (`trainer1`); deleting one that owns Pokémon needs `cascade=true`.' },
  { name: 'Pokémon', description: 'Each Pokémon belongs to one trainer and is of one species; its owner changes only through exchanges and accepted offers, and every owner is kept in its history.' },
  { name: 'Species', description: 'The national Pokédex (1,025 species), read-only.' },
  { name: 'Exchanges', description: 'Two trainers swap Pokémon in one atomic step: every listed Pokémon changes owner, or none does.' },
  { name: 'Offers', description: 'Trades one trainer proposes and the other accepts: consent, then one atomic exchange.' },
  { name: 'Uploads', description: 'CSV files of trainers or Pokémon: every row checked, staged with a TTL, committed as one transaction, exactly once.' },
  { name: 'Keys', description: 'API keys (admin only): scopes, rate limits, expiry, revocation.' },
  { name: 'Operations', description: 'The service itself: its index, health and problem types.' },
];

const DESCRIPTION = [
  'Trainers, their Pokémon, exchanges, offers and CSV uploads.',
  '',
  'Every error is RFC 9457 `application/problem+json` (`Problem`); each `type` dereferences to `GET /problems/{code}`.',
  'A method a path does not take answers 405 with `Allow`; a path that matches no route answers 404.',
  'Every response carries `X-Request-Id` and `Server-Timing` (round trips per dependency); `X-Bookmark` sent back',
  'on later requests gives read-your-writes across read replicas.',
].join('\n');

const string = { type: 'string' };
const header = (description: string, required = false): Header => ({ description, ...(required && { required: true }), schema: string });

const HEADERS = {
  requestId: (required: boolean) => header('The request’s id (the one sent, when short and printable): quote it when reporting a problem.', required),
  serverTiming: (required: boolean) =>
    header('Round trips per dependency: `db;count=1;dur=3.2, replica;count=0;dur=0, redis;count=0;dur=0, total;dur=5.1`, and `cache;desc="hit-edge"` when the read cache was consulted.', required),
  bookmark: header('After a request that reached the database: send it back as `X-Bookmark` to read at least this state.'),
  rateLimit: header('What is left of the key’s limit: `"key";r=<remaining>;t=<seconds to reset>` (sent for keys with a rate limit).'),
  rateLimitPolicy: header('The key’s limit: `"key";q=<requests>;w=<window seconds>`.'),
  retryAfter: (required: boolean) => header('Seconds to wait before retrying.', required),
  location: header('The URL of what was created.', true),
  etag: header('A strong validator of the representation (its SHA-256): send it as `If-None-Match` (304) or `If-Match` (412).', true),
  cacheControl: header('`public, no-cache` (revalidate with `If-None-Match`; `private` when reads need a key), an hour for species, `no-store` for keys and health.', true),
  replayed: header('`true` when this is the stored answer to an earlier request with the same `Idempotency-Key`.'),
  allow: header('The methods the path takes.', true),
  wwwAuthenticate: (required: boolean) => header('`Bearer realm="pokemon-trainers-api"`, with `error` when a token was sent (RFC 6750).', required),
};

const REQUEST_PARAMETERS: Parameter[] = [
  { name: 'X-Request-Id', in: 'header', description: 'An id for this request (1–128 printable ASCII characters), echoed in `X-Request-Id` and in problems.', schema: string },
  { name: 'X-Bookmark', in: 'header', description: 'The `X-Bookmark` of an earlier response: the answer reflects at least that state (read-your-writes on replicas).', schema: string },
];
const IF_NONE_MATCH: Parameter = { name: 'If-None-Match', in: 'header', description: 'An `ETag` of this representation: 304 with no body while it is unchanged.', schema: string };

const problem = (code: ProblemCode): Response => ({ description: PROBLEMS[code].description, content: PROBLEM_CONTENT });

/** The statuses an operation can answer with, from its traits. */
function traitResponses(path: string, method: string, operation: Operation, needsKey: boolean): Partial<Record<string, Response>> {
  const parameters = operation.parameters ?? [];
  const has = (where: string, name?: string) => parameters.some((p) => p.in === where && (name === undefined || p.name.toLowerCase() === name));
  const body = operation.requestBody?.content ?? {};
  return {
    // A body that must parse: JSON, or a form.
    ...(('application/json' in body || 'multipart/form-data' in body) && { 400: problem('malformed-request') }),
    ...(needsKey && { 403: problem('forbidden') }),
    ...(has('path') && { 404: problem('not-found') }),
    ...(has('header', 'idempotency-key') && { 409: problem('conflict') }),
    ...(has('header', 'if-match') && { 412: problem('precondition-failed') }),
    ...(operation.requestBody && { 413: problem('payload-too-large'), 415: problem('unsupported-media-type') }),
    // Any request: a malformed X-Bookmark (and, with parameters or a body, every invalid one).
    422: problem('validation-failed'),
    429: problem('rate-limited'),
    500: problem('internal-error'),
    503: { description: `${PROBLEMS['dependency-unavailable'].description} Or: ${PROBLEMS.misconfigured.description}`, content: PROBLEM_CONTENT },
    ...(method === 'get' && isCacheablePath(path) && { 304: { description: 'Not modified: the `If-None-Match` ETag is still current. No body.' } }),
  };
}

/** The headers a response of `operation` carries. */
function responseHeaders(status: number, path: string, method: string, operation: Operation, response: Response): Record<string, Header> {
  const isProblem = status >= 400;
  const parameters = operation.parameters ?? [];
  const idempotent = parameters.some((p) => p.in === 'header' && p.name.toLowerCase() === 'idempotency-key');
  const cached = method === 'get' && isCacheablePath(path) && (status === 200 || status === 304);
  return {
    'X-Request-Id': HEADERS.requestId(true),
    // A request refused while it is being set up (a bad bookmark, a missing setting) is answered before it is timed.
    'Server-Timing': HEADERS.serverTiming(!isProblem),
    'X-Bookmark': HEADERS.bookmark,
    RateLimit: HEADERS.rateLimit,
    'RateLimit-Policy': HEADERS.rateLimitPolicy,
    ...(status === 201 && { Location: HEADERS.location }),
    ...(cached && { ETag: HEADERS.etag, 'Cache-Control': HEADERS.cacheControl }),
    ...(idempotent && { 'Idempotent-Replayed': HEADERS.replayed }),
    ...((status === 429 || status === 503) && { 'Retry-After': HEADERS.retryAfter(true) }),
    ...(status === 409 && idempotent && { 'Retry-After': HEADERS.retryAfter(false) }),
    ...(status === 401 && { 'WWW-Authenticate': HEADERS.wwwAuthenticate(true) }),
    ...(status === 403 && { 'WWW-Authenticate': HEADERS.wwwAuthenticate(false) }),
    ...response.headers,
  };
}

const METHODS = ['get', 'put', 'post', 'patch', 'delete'];

/** Adds the statuses, headers and parameters every operation shares, from its traits. */
function complete(document: Document): void {
  for (const [path, item] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      if (!METHODS.includes(method)) continue;
      const needsKey = !operation.security?.some((requirement) => Object.keys(requirement as object).length === 0);
      const responses = operation.responses;
      for (const [status, response] of Object.entries(traitResponses(path, method, operation, needsKey))) {
        if (response && responses[status] === undefined) responses[status] = response;
      }
      for (const [status, response] of Object.entries(responses)) {
        response.headers = responseHeaders(Number(status), path, method, operation, response);
        if (Number(status) >= 400) response.content ??= PROBLEM_CONTENT;
      }
      operation.parameters = [...(operation.parameters ?? []), ...REQUEST_PARAMETERS, ...(method === 'get' && isCacheablePath(path) ? [IF_NONE_MATCH] : [])];
      // Numeric order reads best in the reference.
      operation.responses = Object.fromEntries(Object.entries(responses).sort(([a], [b]) => Number(a) - Number(b)));
    }
  }
  document.components = {
    ...document.components,
    responses: {
      MethodNotAllowed: { ...problem('method-not-allowed'), headers: { Allow: HEADERS.allow, 'X-Request-Id': HEADERS.requestId(true) } },
      NotFound: { description: 'No route matches the path.', content: PROBLEM_CONTENT, headers: { 'X-Request-Id': HEADERS.requestId(true) } },
    },
  };
}

export interface DocumentOptions {
  /** Reads need no key (the deployment's `PUBLIC_READS`). */
  publicReads: boolean;
  /** The origin serving the API, for `servers`. */
  origin: string;
}

/** The complete OpenAPI 3.1 document of `app`. */
export function apiDocument(app: OpenAPIHono<AppEnv>, { publicReads, origin }: DocumentOptions) {
  const generated = app.getOpenAPI31Document({
    openapi: '3.1.0',
    info: {
      title: API_NAME,
      version: API_VERSION,
      description: DESCRIPTION,
      license: { name: 'UNLICENSED' },
    },
    servers: [{ url: origin, description: 'This deployment' }],
    tags: TAGS,
  });
  const document = withSecurity(generated, publicReads) as unknown as Document;
  complete(document);
  return generated;
}
