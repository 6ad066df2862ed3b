/**
 * Which problem answers an error: the one mapping from what the layers below throw — domain
 * errors, unreachable dependencies, configuration and database refusals — to RFC 9457 problems.
 */
import { HTTPException } from 'hono/http-exception';
import { DomainError, type DomainErrorKind } from '../domain/errors.ts';
import { ConfigError } from '../platform/config.ts';
import { isUnavailableSqlState, sqlState } from '../platform/database.ts';
import { DEPENDENCY_NAMES, findDependencyError } from '../platform/dependency-error.ts';
import { Problem, type ProblemCode } from '../platform/problem.ts';

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
function domainProblem(error: DomainError): Problem {
  const { uploadComplete, ...details } = error.details;
  const headers: Record<string, string> = {};
  if (typeof details.retryAfterSeconds === 'number') headers['Retry-After'] = String(details.retryAfterSeconds);
  if (typeof details.uploadOffset === 'number') {
    headers['Upload-Offset'] = String(details.uploadOffset);
    headers['Upload-Complete'] = uploadComplete === true ? '?1' : '?0';
  }
  return new Problem(DOMAIN_PROBLEMS[error.kind], error.message, details, headers);
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
  if (error instanceof DomainError) return domainProblem(error);
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
