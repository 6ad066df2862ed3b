/**
 * Request validation answers: zod failures become one 422 listing every problem, and JSON
 * routes refuse other content types with 415.
 */
import type { Hook } from '@hono/zod-openapi';
import { createMiddleware } from 'hono/factory';
import type { z } from 'zod';
import type { AppEnv } from '../env.ts';
import { Problem } from './problem.ts';

/** Where a validated value came from, as the route validator names it. */
type Target = 'json' | 'query' | 'param' | 'header' | 'form' | 'cookie';

/** One problem per zod issue: a JSON Pointer into the body, or the name of the parameter. */
export function issuesToErrors(issues: readonly z.core.$ZodIssue[], target: Target) {
  return issues.map((issue) => {
    const path = issue.path.map(String);
    const detail = issue.message;
    if (target === 'json' || target === 'form') {
      return { pointer: `/${path.map((p) => p.replaceAll('~', '~0').replaceAll('/', '~1')).join('/')}`, detail };
    }
    return { parameter: path.join('.'), detail };
  });
}

/** The `defaultHook` of every router: any validation failure is a 422 problem. */
export const validationHook: Hook<unknown, AppEnv, string, unknown> = (result) => {
  if (result.success) return;
  const target = result.target as Target;
  const errors = issuesToErrors(result.error.issues, target);
  const where = target === 'json' ? 'request body' : `${target === 'param' ? 'path' : target} parameters`;
  throw new Problem('validation-failed', `The ${where} has ${errors.length} invalid field${errors.length === 1 ? '' : 's'}.`, { errors });
};

/** Refuses bodies that are not JSON before the validator reads them (else they'd look empty). */
export const requireJson = createMiddleware<AppEnv>(async (c, next) => {
  const type = c.req.header('Content-Type') ?? '';
  if (!/^application\/([\w.+-]+\+)?json\s*(;|$)/i.test(type)) {
    throw new Problem('unsupported-media-type', `Send the body as application/json${type ? `, not ${type.split(';')[0]}` : ''}.`);
  }
  await next();
});
