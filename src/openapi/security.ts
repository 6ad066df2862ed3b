/**
 * The OpenAPI document's security, derived from the same rule the API enforces
 * ({@link requiredScope}): every operation that needs a key says so, with the 401/403/429 it
 * can answer, so the contract cannot drift from the middleware.
 */
import { requiredScope } from '../http/auth.ts';
import { trainerMayCall } from '../http/trainer-access.ts';

type Operation = { security?: Record<string, string[]>[]; responses?: Record<string, unknown>; description?: string };
type Document = { paths?: Record<string, Record<string, Operation>>; components?: Record<string, unknown> };

/** A problem body in the generated document (the `Problem` schema the routes register). */
export const PROBLEM_CONTENT = { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } };

// Their headers are added with every other operation's (document.ts).
const UNAUTHORIZED = { description: 'No API key, or a malformed, unknown, revoked or expired one.', content: PROBLEM_CONTENT };
const FORBIDDEN = { description: 'The key lacks the scope this operation needs (`requiredScope`).', content: PROBLEM_CONTENT };
const RATE_LIMITED = { description: 'Over the key’s rate limit (or, without a key, the address’s).', content: PROBLEM_CONTENT };

const METHODS = ['get', 'head', 'post', 'put', 'patch', 'delete'];

/** Adds the bearer scheme, and each operation's `security` and auth responses, to `document`. */
export function withSecurity<T extends object>(generated: T, publicReads: boolean): T {
  const document = generated as Document;
  document.components = {
    ...document.components,
    securitySchemes: {
      bearer: { type: 'http', scheme: 'bearer', description: 'An API key: `Authorization: Bearer pta_…`. Scopes: read, write, admin.' },
    },
  };
  for (const [path, item] of Object.entries(document.paths ?? {})) {
    for (const [method, operation] of Object.entries(item)) {
      if (!METHODS.includes(method)) continue;
      const scope = requiredScope(method.toUpperCase(), path, publicReads);
      const responses = (operation.responses ??= {});
      if (scope === undefined) {
        // Anybody may call it; a key that is sent is still checked.
        operation.security = [{}, { bearer: [] }];
        responses['401'] ??= UNAUTHORIZED;
        continue;
      }
      operation.security = [{ bearer: [] }];
      const trainer = trainerMayCall(method.toUpperCase(), path) ? ', or a `trainer` key (for its own trainer only)' : '';
      operation.description = `${operation.description ? `${operation.description}\n\n` : ''}Needs a key with the \`${scope}\` scope${trainer}.`;
      responses['401'] ??= UNAUTHORIZED;
      responses['403'] ??= FORBIDDEN;
      responses['429'] ??= RATE_LIMITED;
    }
  }
  return generated;
}
