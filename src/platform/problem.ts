/**
 * RFC 9457 problem details: the one place that maps problem codes to statuses and titles.
 * Every error response of the API is built here (which error becomes which problem:
 * src/http/errors.ts).
 */
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

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
