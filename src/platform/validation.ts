/**
 * Request validation answers: zod failures become one 422 listing every problem, and JSON
 * routes refuse other content types with 415.
 */
import type { Hook } from '@hono/zod-openapi';
import { bodyLimit } from 'hono/body-limit';
import { createMiddleware } from 'hono/factory';
import type { z } from 'zod';
import type { AppEnv } from '../env.ts';
import { Problem } from './problem.ts';

/** Where a validated value came from, as the route validator names it. */
type Target = 'json' | 'query' | 'param' | 'header' | 'form' | 'cookie';

/** One problem per zod issue: a JSON Pointer into the body, or the name of the parameter. */
export function issuesToErrors(issues: readonly z.core.$ZodIssue[], target: Target) {
  return issues.flatMap((issue) => {
    const path = issue.path.map(String);
    // An unknown field is reported where it stands, one error per field.
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => locate([...path, key], 'is not a known field', target));
    }
    return [locate(path, issue.message, target)];
  });
}

function locate(path: string[], detail: string, target: Target) {
  if (target === 'json' || target === 'form') {
    return { pointer: `/${path.map((p) => p.replaceAll('~', '~0').replaceAll('/', '~1')).join('/')}`, detail };
  }
  return { parameter: path.join('.'), detail };
}

/** The `defaultHook` of every router: any validation failure is a 422 problem. */
export const validationHook: Hook<unknown, AppEnv, string, unknown> = (result, c) => {
  if (result.success) return;
  const target = result.target as Target;
  // An id that cannot exist names nothing: that is a 404, not a validation error.
  if (target === 'param') throw new Problem('not-found', `Nothing exists at ${c.req.path}.`);
  const errors = issuesToErrors(result.error.issues, target);
  const where = target === 'json' ? 'request body' : `${target} parameters`;
  throw new Problem('validation-failed', `The ${where} has ${errors.length} invalid field${errors.length === 1 ? '' : 's'}.`, { errors });
};

/** JSON bodies are small records; anything bigger is refused before it is buffered. */
export const JSON_BODY_LIMIT = 64 * 1024;

const limitJsonBody = bodyLimit({
  maxSize: JSON_BODY_LIMIT,
  onError: () => {
    throw new Problem('payload-too-large', `JSON bodies are limited to ${JSON_BODY_LIMIT / 1024} KiB.`);
  },
});

/**
 * Refuses bodies that are not JSON (415) before the validator reads them (else they would look
 * empty), and bodies over {@link JSON_BODY_LIMIT} (413).
 */
export const requireJson = createMiddleware<AppEnv>(async (c, next) => {
  const type = c.req.header('Content-Type') ?? '';
  if (!/^application\/([\w.+-]+\+)?json\s*(;|$)/i.test(type)) {
    throw new Problem('unsupported-media-type', `Send the body as application/json${type ? `, not ${type.split(';')[0]}` : ''}.`);
  }
  await limitJsonBody(c, next);
});
