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

/**
 * How much more of a refused body is still read (and dropped) before answering. A Worker that
 * answers while the client is still sending breaks the upload: `wrangler dev`'s proxy then
 * answers 500 "Network connection lost" and clients see EPIPE or a reset instead of the 4xx.
 * Past this, the body is cancelled and such a client may see the connection cut.
 */
const REFUSED_BODY_DRAIN_LIMIT = 8 * 1024 * 1024;

const tooLarge = () => new Problem('payload-too-large', `JSON bodies are limited to ${JSON_BODY_LIMIT / 1024} KiB.`);

/** Reads and drops the rest of a refused body, up to {@link REFUSED_BODY_DRAIN_LIMIT} bytes, then cancels it. */
export async function drainRefusedBody(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
  for (let drained = 0; drained <= REFUSED_BODY_DRAIN_LIMIT; ) {
    const { done, value } = await reader.read();
    if (done) return;
    drained += value.length;
  }
  await reader.cancel();
}

/**
 * Reads the body up to {@link JSON_BODY_LIMIT} and puts it back on the request; a body that
 * passes the limit is refused with 413 once it has been read (see {@link REFUSED_BODY_DRAIN_LIMIT}).
 */
const limitJsonBody = createMiddleware<AppEnv>(async (c, next) => {
  const body = c.req.raw.body;
  if (!body) return next();
  // A body declared bigger than what would be drained is refused at once.
  if (Number(c.req.header('Content-Length')) > REFUSED_BODY_DRAIN_LIMIT) throw tooLarge();
  const reader = body.getReader();
  const buffer = new Uint8Array(JSON_BODY_LIMIT);
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (size + value.length > JSON_BODY_LIMIT) {
      await drainRefusedBody(reader);
      throw tooLarge();
    }
    buffer.set(value, size);
    size += value.length;
  }
  c.req.raw = new Request(c.req.raw, { body: buffer.subarray(0, size) });
  return next();
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
