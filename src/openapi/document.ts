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
 *
 * What operations share is written once in `components` (components.ts) and referenced: a
 * problem response is its status's `components.responses` entry, unless the route describes it.
 */
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../env.ts';
import { isCacheablePath } from '../platform/read-cache.ts';
import {
  COMMON_HEADERS,
  headers,
  IF_NONE_MATCH,
  isProblemStatus,
  NOT_MODIFIED_REF,
  parameterRef,
  PROBLEM_CONTENT,
  problemDescription,
  problemHeadersOf,
  problemRef,
  REQUEST_PARAMETERS,
  sharedComponents,
  type HeaderName,
  type ProblemStatus,
} from './components.ts';
import { operationAuth, SECURITY_SCHEMES } from './security.ts';

type Ref = { $ref: string };
type Response = { description: string; headers?: Record<string, unknown>; content?: Record<string, unknown> };
type Parameter = { name: string; in: string; required?: boolean; description?: string; schema?: Record<string, unknown> };
type Operation = {
  description?: string;
  parameters?: (Parameter | Ref)[];
  requestBody?: { content: Record<string, unknown> };
  responses: Record<string, Response | Ref>;
  security?: unknown[];
};
type Document = { paths: Record<string, Record<string, Operation>>; components?: Record<string, unknown> };

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

/** The problem statuses (and 304) an operation can answer with, from its traits. */
function traitStatuses(path: string, method: string, operation: Operation, authStatuses: ProblemStatus[]): (ProblemStatus | 304)[] {
  const has = (where: string, name?: string) => parametersOf(operation).some((p) => p.in === where && (name === undefined || p.name.toLowerCase() === name));
  const body = operation.requestBody?.content ?? {};
  return [
    ...(method === 'get' && isCacheablePath(path) ? [304 as const] : []),
    // A body that must parse: JSON, or a form.
    ...('application/json' in body || 'multipart/form-data' in body ? [400 as const] : []),
    ...authStatuses,
    ...(has('path') ? [404 as const] : []),
    ...(has('header', 'idempotency-key') ? [409 as const] : []),
    ...(has('header', 'if-match') ? [412 as const] : []),
    ...(operation.requestBody ? [413 as const, 415 as const] : []),
    // Any request: a malformed X-Bookmark (and, with parameters or a body, every invalid one).
    422,
    500,
    503,
  ];
}

/** The operation's own parameters (before the shared ones become references). */
function parametersOf(operation: Operation): Parameter[] {
  return (operation.parameters ?? []).filter((parameter): parameter is Parameter => !('$ref' in parameter));
}

/** The headers a successful answer of `operation` carries. */
function successHeaders(status: number, path: string, method: string, operation: Operation): Record<string, unknown> {
  const idempotent = parametersOf(operation).some((p) => p.in === 'header' && p.name.toLowerCase() === 'idempotency-key');
  const names: HeaderName[] = [...COMMON_HEADERS];
  if (status === 201) names.push('Location');
  if (status === 200 && method === 'get' && isCacheablePath(path)) names.push('ETag', 'Cache-Control');
  if (idempotent) names.push('Idempotent-Replayed');
  return headers(...names);
}

/** A response the route declared, as it goes into the document. */
function documented(status: number, response: Response, path: string, method: string, operation: Operation): Response | Ref {
  if (status < 400) return { ...response, headers: { ...successHeaders(status, path, method, operation), ...response.headers } };
  if (!isProblemStatus(status)) throw new Error(`${method.toUpperCase()} ${path} documents ${status}, which no problem type has`);
  // A `Problem` body that says nothing more than the status's shared response is that response. One
  // the route describes is written out: renderers (Scalar's among them) show a referenced
  // response's own description, not one beside the `$ref`.
  const problemBody = response.content === undefined || JSON.stringify(response.content) === JSON.stringify(PROBLEM_CONTENT);
  if (problemBody && response.description === problemDescription(status)) return problemRef(status);
  return { ...response, headers: { ...problemHeadersOf(status), ...response.headers }, content: response.content ?? PROBLEM_CONTENT };
}

/**
 * Parameters the routes declare alike on several operations (each from one zod schema): written
 * once in `components.parameters`, by these names.
 */
const SHARED_PARAMETERS: Record<string, { in: string; name: string }> = {
  limit: { in: 'query', name: 'limit' },
  cursor: { in: 'query', name: 'cursor' },
  'If-Match': { in: 'header', name: 'if-match' },
  'Idempotency-Key': { in: 'header', name: 'idempotency-key' },
};

/** Replaces the shared parameters of `operation` by references, collecting them in `shared`. */
function referenceShared(operation: Operation, shared: Record<string, Parameter>): (Parameter | Ref)[] {
  return parametersOf(operation).map((parameter) => {
    const name = Object.keys(SHARED_PARAMETERS).find((key) => SHARED_PARAMETERS[key]!.in === parameter.in && SHARED_PARAMETERS[key]!.name === parameter.name);
    if (name === undefined) return parameter;
    shared[name] ??= parameter;
    if (JSON.stringify(shared[name]) !== JSON.stringify(parameter)) throw new Error(`the ${name} parameter differs between operations`);
    return parameterRef(name);
  });
}

const METHODS = ['get', 'put', 'post', 'patch', 'delete'];

/** Adds security, and the statuses, headers and parameters every operation shares, from its traits. */
function complete(document: Document, publicReads: boolean): void {
  const sharedParameters: Record<string, Parameter> = {};
  for (const [path, item] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      if (!METHODS.includes(method)) continue;
      const auth = operationAuth(method, path, publicReads);
      operation.security = auth.security;
      if (auth.note) operation.description = `${operation.description ? `${operation.description}\n\n` : ''}${auth.note}`;
      const responses: Record<string, Response | Ref> = {};
      for (const [status, response] of Object.entries(operation.responses)) responses[status] = documented(Number(status), response as Response, path, method, operation);
      for (const status of traitStatuses(path, method, operation, auth.statuses)) {
        responses[status] ??= status === 304 ? NOT_MODIFIED_REF : problemRef(status);
      }
      // Numeric order reads best in the reference.
      operation.responses = Object.fromEntries(Object.entries(responses).sort(([a], [b]) => Number(a) - Number(b)));
      operation.parameters = [...referenceShared(operation, sharedParameters), ...REQUEST_PARAMETERS, ...(method === 'get' && isCacheablePath(path) ? [IF_NONE_MATCH] : [])];
    }
  }
  const shared = sharedComponents();
  // The shared responses some operation refers to, and the answers to requests that match none (404, 405).
  const used = new Set([...JSON.stringify(document.paths).matchAll(/"#\/components\/responses\/(\w+)"/g)].map(([, name]) => name));
  document.components = {
    ...document.components,
    securitySchemes: SECURITY_SCHEMES,
    headers: shared.headers,
    parameters: { ...shared.parameters, ...sharedParameters },
    responses: Object.fromEntries(Object.entries(shared.responses).filter(([name]) => used.has(name) || name === 'NotFound' || name === 'MethodNotAllowed')),
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
  complete(generated as unknown as Document, publicReads);
  return generated;
}
