/**
 * RFC 9457 problem details: the one place that maps error codes to statuses and titles.
 * Every error response of the API is built here.
 */
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { HTTPException } from 'hono/http-exception';
import { DomainError as DomainErrorClass, type DomainError, type DomainErrorKind } from '../domain/errors.ts';
import { ConfigError } from './config.ts';
import { isUnavailableSqlState, sqlState } from './database.ts';
import { DEPENDENCY_NAMES, findDependencyError } from './dependency-error.ts';

export const PROBLEMS = {
  'malformed-request': { status: 400, title: 'Malformed request', description: 'The request could not be read, e.g. its JSON body does not parse.' },
  unauthorized: {
    status: 401,
    title: 'Unauthorized',
    description:
      'The request needs an API key (`Authorization: Bearer <key>`), or the one sent is malformed, unknown, revoked or expired. `WWW-Authenticate` says which.',
  },
  forbidden: {
    status: 403,
    title: 'Forbidden',
    description:
      'The API key is valid but lacks the scope this request needs (`requiredScope`), or — a trainer key — the request concerns another trainer or a route trainer keys may not use (`trainer` names the key’s trainer).',
  },
  'not-found': { status: 404, title: 'Not found', description: 'Nothing exists at this path, or the resource it names does not exist (or has expired).' },
  'method-not-allowed': { status: 405, title: 'Method not allowed', description: 'The path exists but not with this method; `Allow` lists the methods it takes.' },
  conflict: {
    status: 409,
    title: 'Conflict',
    description: 'The request contradicts the current state: an id that is taken, a Pokémon no longer owned by the stated trainer, a request still in flight.',
  },
  gone: {
    status: 410,
    title: 'Gone',
    description: 'What the request acts on existed but no longer can be acted on: an offer already accepted, declined, withdrawn or expired (`offerStatus` says which).',
  },
  'precondition-failed': {
    status: 412,
    title: 'Precondition failed',
    description: 'The resource is no longer the representation whose ETag was sent in If-Match (or does not exist): read it again, then retry.',
  },
  'payload-too-large': { status: 413, title: 'Payload too large', description: 'The body is bigger than this route accepts.' },
  'unsupported-media-type': { status: 415, title: 'Unsupported media type', description: 'The body is not in a format this route accepts; `Content-Type` must say which.' },
  'validation-failed': {
    status: 422,
    title: 'Validation failed',
    description: '`errors` lists every invalid field: body fields by JSON Pointer (`pointer`), parameters by name (`parameter`).',
  },
  'rate-limited': {
    status: 429,
    title: 'Too many requests',
    description: 'The API key (or, without one, the client address) is over its rate limit. Retry after `Retry-After` seconds; `RateLimit` and `RateLimit-Policy` describe the limit.',
  },
  'internal-error': { status: 500, title: 'Internal server error', description: 'A bug on our side. Nothing about it is disclosed; quote `requestId` when reporting it.' },
  'dependency-unavailable': {
    status: 503,
    title: 'Dependency unavailable',
    description:
      'The database or Redis (`dependency`) did not answer in time. A write that timed out may still have been applied: read before retrying it, after `Retry-After` seconds.',
  },
  misconfigured: {
    status: 503,
    title: 'Misconfigured',
    description: 'The deployment is missing a setting or has an invalid one (`binding` names it). Nothing was done; the operators must fix it.',
  },
} as const satisfies Record<string, { status: ContentfulStatusCode; title: string; description: string }>;

export type ProblemCode = keyof typeof PROBLEMS;

/** Throw from anywhere in a request to answer with this problem. */
export class Problem extends Error {
  readonly code: ProblemCode;
  readonly detail: string;
  readonly extensions: Record<string, unknown>;
  readonly headers: Record<string, string>;

  constructor(code: ProblemCode, detail: string, extensions: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
    super(detail);
    this.code = code;
    this.detail = detail;
    this.extensions = extensions;
    this.headers = headers;
  }

  get status(): ContentfulStatusCode {
    return PROBLEMS[this.code].status;
  }
}

/** The problem each kind of domain error is answered with. */
const DOMAIN_PROBLEMS: Record<DomainErrorKind, ProblemCode> = {
  'not-found': 'not-found',
  conflict: 'conflict',
  invalid: 'validation-failed',
  'too-large': 'payload-too-large',
  'quota-exceeded': 'rate-limited',
  forbidden: 'forbidden',
  gone: 'gone',
};

/**
 * The problem a domain error is answered with: its message as `detail`, its details as
 * extensions; the details that are header fields become headers (`retryAfterSeconds` →
 * `Retry-After`; a resumable upload's `uploadOffset` and `uploadComplete` → `Upload-Offset` and
 * `Upload-Complete`, and `uploadComplete` stays out of the body).
 */
export function domainProblem(error: DomainError): Problem {
  const { uploadComplete, ...details } = error.details;
  const headers: Record<string, string> = {};
  if (typeof details.retryAfterSeconds === 'number') headers['Retry-After'] = String(details.retryAfterSeconds);
  if (typeof details.uploadOffset === 'number') {
    headers['Upload-Offset'] = String(details.uploadOffset);
    headers['Upload-Complete'] = uploadComplete === true ? '?1' : '?0';
  }
  return new Problem(DOMAIN_PROBLEMS[error.kind], error.message, details, headers);
}

/** The problem-type URI for `code`; `GET` on it describes the problem. */
export function problemType(code: ProblemCode): string {
  return `/problems/${code}`;
}

/** Renders `problem` as an `application/problem+json` response for the current request. */
export function problemResponse(c: Context, problem: Problem): Response {
  const { status, title } = PROBLEMS[problem.code];
  const body = {
    type: problemType(problem.code),
    title,
    status,
    detail: problem.detail,
    instance: new URL(c.req.url).pathname,
    requestId: c.get('requestId'),
    ...problem.extensions,
  };
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/problem+json', 'X-Request-Id': c.get('requestId'), ...problem.headers },
  });
}

/** 503 naming the dependency, retryable after a second. */
function unavailableProblem(dependency: string, detail: string): Problem {
  return new Problem('dependency-unavailable', detail, { dependency }, { 'Retry-After': '1' });
}

/**
 * The problem any error thrown while handling a request is answered with: problems as they
 * are, domain errors by {@link DOMAIN_PROBLEMS}, unreachable dependencies and bad configuration
 * as 503s, values the database refuses as 422, and anything else as a 500 that discloses nothing.
 */
export function problemFor(error: unknown, requestId: string): Problem {
  if (error instanceof Problem) return error;
  if (error instanceof DomainErrorClass) return domainProblem(error);
  if (error instanceof ConfigError) {
    return new Problem('misconfigured', `The service is misconfigured: ${error.message}`, { binding: error.binding }, { 'Retry-After': '60' });
  }
  const unavailable = findDependencyError(error);
  if (unavailable) {
    const name = DEPENDENCY_NAMES[unavailable.dependency];
    return unavailableProblem(name, `The ${name} did not answer; try again shortly.`);
  }
  const state = sqlState(error);
  // The session was cut, the statement cancelled, or the server is out of resources: nothing was written, try later.
  if (isUnavailableSqlState(state)) {
    return unavailableProblem(DEPENDENCY_NAMES.db, 'The database could not finish the request; try again shortly.');
  }
  // Postgres's "data exception" class: a value the validators let through but the database refuses.
  if (state?.startsWith('22')) return new Problem('validation-failed', 'A value in the request cannot be stored or compared by the database.');
  // Hono's validators throw one HTTPException, a 400 for a body that does not parse (413 and 415 are the API's own Problems).
  if (error instanceof HTTPException && error.status === 400) return new Problem('malformed-request', error.message);
  return new Problem('internal-error', `Something went wrong on our side; quote request id ${requestId} when reporting it.`);
}
