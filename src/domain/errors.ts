/**
 * The domain's typed failures. Domain code knows nothing of HTTP: it throws these, and the
 * platform maps each kind to a problem type in one table (`DOMAIN_PROBLEMS` in `problem.ts`).
 */

export type DomainErrorKind =
  /** What the request names does not exist (or has expired). */
  | 'not-found'
  /** The request contradicts the current state. */
  | 'conflict'
  /** The input breaks a rule; `details.errors` lists where. */
  | 'invalid'
  /** The input is larger than allowed. */
  | 'too-large'
  /** The caller has used up a quota; `details.retryAfterSeconds` says when it frees up. */
  | 'quota-exceeded'
  /** The caller may not do this to what the request names (e.g. another trainer's offer or Pokémon). */
  | 'forbidden'
  /** What the request names existed but can no longer be acted on (an offer no longer open). */
  | 'gone';

export class DomainError extends Error {
  readonly kind: DomainErrorKind;
  /** Machine-readable facts a client can act on (`errors`, `conflicts`, limits…). */
  readonly details: Record<string, unknown>;

  constructor(kind: DomainErrorKind, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.kind = kind;
    this.details = details;
  }
}
