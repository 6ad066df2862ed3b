/**
 * The OpenAPI document's security, derived from the same rule the API enforces
 * ({@link requiredScope}): whether an operation needs a key, which scope, and the auth
 * statuses it can answer, so the contract cannot drift from the middleware.
 */
import { requiredScope } from '../http/auth.ts';
import { trainerMayCall } from '../http/trainer-access.ts';

export const SECURITY_SCHEMES = {
  bearer: { type: 'http', scheme: 'bearer', description: 'An API key: `Authorization: Bearer pta_…`. Scopes: read, write, admin.' },
};

export interface OperationAuth {
  security: Record<string, string[]>[];
  /** What the operation's description adds: the scope it needs. */
  note?: string;
  /** 401 (a key that is sent is always checked) and 429 (keys and anonymous callers are rate limited); 403 when a scope is needed. */
  statuses: (401 | 403 | 429)[];
}

/** The security of `method path`, as the middleware decides it. */
export function operationAuth(method: string, path: string, publicReads: boolean): OperationAuth {
  const scope = requiredScope(method.toUpperCase(), path, publicReads);
  // Anybody may call it; a key that is sent is still checked.
  if (scope === undefined) return { security: [{}, { bearer: [] }], statuses: [401, 429] };
  const trainer = trainerMayCall(method.toUpperCase(), path) ? ', or a `trainer` key (for its own trainer only)' : '';
  return { security: [{ bearer: [] }], note: `Needs a key with the \`${scope}\` scope${trainer}.`, statuses: [401, 403, 429] };
}
