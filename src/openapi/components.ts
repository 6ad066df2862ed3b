/**
 * The parts of the OpenAPI document that many operations share, written once in `components`
 * and referenced by `$ref`: response headers, the problem response of each status, the 304,
 * and the request headers every operation takes.
 */
import { PROBLEMS, type ProblemCode } from '../platform/problem.ts';

type Ref = { $ref: string };

/** A problem body in the generated document (the `Problem` schema the routes register). */
export const PROBLEM_CONTENT = { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } };

const string = { type: 'string' };
const header = (description: string, required: boolean, schema: Record<string, unknown> = string) => ({ description, ...(required && { required: true }), schema });

const SERVER_TIMING =
  'Round trips per dependency: `db;count=1;dur=3.2, replica;count=0;dur=0, redis;count=0;dur=0, total;dur=5.1`, and `cache;desc="hit-edge"` when the read cache was consulted.';
const WWW_AUTHENTICATE = '`Bearer realm="pokemon-trainers-api"`, with `error` when a token was sent (RFC 6750)';

/**
 * `components.headers`, by header name. A header required on some answers and not on others has
 * a second entry, `<name>.optional` (a `$ref` cannot change `required`).
 */
const HEADERS = {
  'X-Request-Id': header('The request’s id (the one sent, when short and printable): quote it when reporting a problem.', true),
  'Server-Timing': header(SERVER_TIMING, true),
  'Server-Timing.optional': header(`${SERVER_TIMING} Absent when the request was refused before it was timed (a malformed \`X-Bookmark\`, a missing setting).`, false),
  'X-Bookmark': header('After a request that reached the database: send it back as `X-Bookmark` to read at least this state.', false),
  RateLimit: header('What is left of the key’s limit: `"key";r=<remaining>;t=<seconds to reset>` (sent for keys with a rate limit).', false),
  'RateLimit-Policy': header('The key’s limit: `"key";q=<requests>;w=<window seconds>`.', false),
  'Retry-After': header('Seconds to wait before retrying.', true),
  'Retry-After.optional': header('Seconds to wait before retrying: sent when a request with the same `Idempotency-Key` is still being processed.', false),
  Location: header('The URL of what was created.', true),
  ETag: header('A strong validator of the representation (its SHA-256): send it as `If-None-Match` (304) or `If-Match` (412).', true),
  'Cache-Control': header('`public, no-cache` (revalidate with `If-None-Match`; `private` when reads need a key), an hour for species, `no-store` for keys and health.', true),
  'Idempotent-Replayed': header('`true` when this is the stored answer to an earlier request with the same `Idempotency-Key`.', false),
  Allow: header('The methods the path takes.', true),
  'WWW-Authenticate': header(`${WWW_AUTHENTICATE}.`, true),
  'WWW-Authenticate.optional': header(`${WWW_AUTHENTICATE}: \`error="insufficient_scope"\` and the \`scope\` needed, when the key lacks it.`, false),
  'Upload-Offset': header('Bytes of the file the upload holds now.', false, { type: 'integer', minimum: 0 }),
  'Upload-Complete': header('`?0`: more pieces are expected.', false, { type: 'string', enum: ['?0', '?1'] }),
  'Upload-Limit': header('`max-size`, `max-append-size` (bytes) and `max-age` (seconds).', false),
};

export type HeaderName = keyof typeof HEADERS;

export function headerRef(name: HeaderName): Ref {
  return { $ref: `#/components/headers/${name}` };
}

/** The headers of `names`, each by reference, under the header's own name. */
export function headers(...names: HeaderName[]): Record<string, Ref> {
  return Object.fromEntries(names.map((name) => [name.replace(/\.optional$/, ''), headerRef(name)]));
}

/** What every answer may carry. */
export const COMMON_HEADERS: HeaderName[] = ['X-Request-Id', 'Server-Timing', 'X-Bookmark', 'RateLimit', 'RateLimit-Policy'];

export type ProblemStatus = (typeof PROBLEMS)[ProblemCode]['status'];

/** `components.responses`: the problem response of each status, by name. */
const PROBLEM_RESPONSE_NAMES: Record<ProblemStatus, string> = {
  400: 'MalformedRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  409: 'Conflict',
  410: 'Gone',
  412: 'PreconditionFailed',
  413: 'PayloadTooLarge',
  415: 'UnsupportedMediaType',
  422: 'ValidationFailed',
  429: 'RateLimited',
  500: 'InternalError',
  503: 'ServiceUnavailable',
};

/** The headers a problem of `status` carries, besides what every answer may. */
function problemHeaders(status: number): HeaderName[] {
  // A request refused while it is being set up (a bad bookmark, a missing setting) is answered before it is timed.
  const names: HeaderName[] = ['X-Request-Id', 'Server-Timing.optional', 'X-Bookmark', 'RateLimit', 'RateLimit-Policy'];
  if (status === 401) names.push('WWW-Authenticate');
  if (status === 403) names.push('WWW-Authenticate.optional');
  if (status === 405) names.push('Allow');
  if (status === 409) names.push('Retry-After.optional');
  if (status === 429 || status === 503) names.push('Retry-After');
  return names;
}

/** The problem response of `status` (its description: that of every problem type with this status). */
function problemComponent(status: ProblemStatus) {
  const codes = (Object.keys(PROBLEMS) as ProblemCode[]).filter((code) => PROBLEMS[code].status === status);
  return { description: codes.map((code) => PROBLEMS[code].description).join(' Or: '), headers: headers(...problemHeaders(status)), content: PROBLEM_CONTENT };
}

const PROBLEM_RESPONSES = Object.fromEntries(
  Object.entries(PROBLEM_RESPONSE_NAMES).map(([status, name]) => [name, problemComponent(Number(status) as ProblemStatus)]),
);

/** Whether `status` is one the API answers problems with. */
export function isProblemStatus(status: number): status is ProblemStatus {
  return status in PROBLEM_RESPONSE_NAMES;
}

/** The problem response of `status`, by reference. */
export function problemRef(status: ProblemStatus): Ref {
  return { $ref: `#/components/responses/${PROBLEM_RESPONSE_NAMES[status]}` };
}

/** What the problem response of `status` says. */
export function problemDescription(status: ProblemStatus): string {
  return PROBLEM_RESPONSES[PROBLEM_RESPONSE_NAMES[status]]!.description;
}

/** The headers of a problem response of `status` that is written out, by reference. */
export function problemHeadersOf(status: ProblemStatus): Record<string, Ref> {
  return headers(...problemHeaders(status));
}

export const NOT_MODIFIED_REF: Ref = { $ref: '#/components/responses/NotModified' };

/** `components.parameters`: the request headers every operation takes, and `If-None-Match` of cached reads. */
const PARAMETERS = {
  'X-Request-Id': { name: 'X-Request-Id', in: 'header', description: 'An id for this request (1–128 printable ASCII characters), echoed in `X-Request-Id` and in problems.', schema: string },
  'X-Bookmark': { name: 'X-Bookmark', in: 'header', description: 'The `X-Bookmark` of an earlier response: the answer reflects at least that state (read-your-writes on replicas).', schema: string },
  'If-None-Match': { name: 'If-None-Match', in: 'header', description: 'An `ETag` of this representation: 304 with no body while it is unchanged.', schema: string },
};

export function parameterRef(name: string): Ref {
  return { $ref: `#/components/parameters/${name}` };
}

export const REQUEST_PARAMETERS = [parameterRef('X-Request-Id'), parameterRef('X-Bookmark')];
export const IF_NONE_MATCH = parameterRef('If-None-Match');

/** The shared components, to merge into the generated document's. */
export function sharedComponents() {
  return {
    headers: HEADERS,
    parameters: PARAMETERS,
    responses: {
      NotModified: {
        description: 'Not modified: the `If-None-Match` ETag is still current. No body.',
        headers: headers(...COMMON_HEADERS, 'ETag', 'Cache-Control'),
      },
      ...PROBLEM_RESPONSES,
    },
  };
}
