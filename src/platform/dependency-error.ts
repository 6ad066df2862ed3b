import type { Dependency } from './round-trips.ts';

/** How problems and logs name each dependency. */
export const DEPENDENCY_NAMES: Record<Dependency, string> = { db: 'database', replica: 'replica', redis: 'redis' };

/**
 * A dependency could not be reached in time (network error, timeout, 5xx from its HTTP
 * front). Routes let it propagate; the error handler turns it into a 503 that names it.
 */
export class DependencyUnavailableError extends Error {
  readonly dependency: Dependency;
  constructor(dependency: Dependency, cause: unknown) {
    super(`${DEPENDENCY_NAMES[dependency]} unavailable: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.dependency = dependency;
  }
}

/** An error and the errors it wraps (`cause`, or neon's `sourceError`), outermost first. */
export function* errorChain(error: unknown): Generator<Error> {
  for (let current = error, depth = 0; current instanceof Error && depth < 8; depth++) {
    yield current;
    current = current.cause ?? (current as { sourceError?: unknown }).sourceError;
  }
}

/** Finds a {@link DependencyUnavailableError} anywhere in a chain of wrapped errors (drizzle and neon wrap them). */
export function findDependencyError(error: unknown): DependencyUnavailableError | undefined {
  for (const link of errorChain(error)) if (link instanceof DependencyUnavailableError) return link;
  return undefined;
}
