/**
 * Request validation answers: every zod issue becomes a sentence naming the field and the rule
 * (no zod wording reaches a client), failures become one 422 listing every problem, and JSON
 * routes refuse other content types with 415.
 */
import type { Context } from 'hono';
import type { Hook } from '@hono/zod-openapi';
import { createMiddleware } from 'hono/factory';
import { z } from 'zod';
import { listOf } from './wording.ts';
import type { AppEnv } from '../env.ts';
import { Problem } from './problem.ts';

/** Where a validated value came from, as the route validator names it (no route validates cookies). */
type Target = 'json' | 'query' | 'param' | 'header' | 'form';
/** Where a 422 can be about: an invalid path parameter names nothing, a 404. */
type InvalidTarget = Exclude<Target, 'param'>;

/** One field-level error: a JSON Pointer into the body, or a parameter's name. */
export type FieldError = ({ pointer: string; parameter?: never } | { parameter: string; pointer?: never }) & {
  detail: string;
  /** Unknown species: the closest names. */
  suggestions?: string[];
};

const plural = (count: number, one: string, many = `${one}s`) => `${count} ${count === 1 ? one : many}`;

/** What a value is, for "must be X, not Y". */
function kindOf(input: unknown): string {
  if (input === null) return 'null';
  if (Array.isArray(input)) return 'a list';
  if (typeof input === 'number') return Number.isNaN(input) ? 'not a number' : 'a number';
  if (typeof input === 'string') return 'text';
  if (typeof input === 'boolean') return input ? 'true' : 'false';
  if (typeof input === 'object') return 'an object';
  return typeof input;
}

const EXPECTED: Record<string, string> = {
  string: 'text (a JSON string)',
  number: 'a number',
  int: 'a whole number',
  bigint: 'a whole number',
  boolean: 'true or false',
  object: 'an object',
  array: 'a list (a JSON array)',
  date: 'a date',
  null: 'null',
  never: 'absent',
};

const FORMATS: Record<string, string> = {
  email: 'an email address',
  url: 'a URL',
  uuid: 'a UUID',
  guid: 'a UUID',
  datetime: 'a date-time like 2030-01-01T00:00:00Z',
  date: 'a date written YYYY-MM-DD',
  time: 'a time written HH:MM:SS',
  base64: 'base64 text',
  base64url: 'base64url text',
  ipv4: 'an IPv4 address',
  ipv6: 'an IPv6 address',
};

const quote = (value: unknown) => (typeof value === 'string' ? `"${value}"` : String(value));

function bound(issue: { origin: string; inclusive?: boolean }, limit: unknown, side: 'least' | 'most'): string {
  const n = Number(limit);
  switch (issue.origin) {
    case 'string':
      if (side === 'least' && n === 1) return 'must not be empty';
      return `must be at ${side} ${plural(n, 'character')} long`;
    case 'array':
    case 'set':
      if (side === 'least' && n === 1) return 'must not be empty';
      return `must have at ${side} ${plural(n, 'item')}`;
    case 'file':
      return `must be at ${side} ${plural(n, 'byte')}`;
    default:
      if (issue.inclusive === false) return `must be ${side === 'least' ? 'greater' : 'less'} than ${String(limit)}`;
      return `must be at ${side} ${String(limit)}`;
  }
}

/**
 * The rule an issue broke, as a predicate about its field ("is required", "must be at most
 * 100") — the one mapping from zod's issue codes to words, used wherever no schema set its own.
 */
function ruleOf(issue: z.core.$ZodRawIssue): string {
  // Absent where a value (of one type or of several) must be.
  if (issue.input === undefined && (issue.code === 'invalid_type' || issue.code === 'invalid_union')) return 'is required';
  switch (issue.code) {
    case 'invalid_type':
      return `must be ${EXPECTED[issue.expected] ?? issue.expected}, not ${kindOf(issue.input)}`;
    case 'too_small':
      return bound(issue, issue.minimum, 'least');
    case 'too_big':
      return bound(issue, issue.maximum, 'most');
    case 'invalid_format':
      if (issue.format === 'regex') return `must match the pattern ${issue.pattern ?? ''}`.trim();
      if (issue.format === 'starts_with') return `must start with ${quote(issue.prefix)}`;
      if (issue.format === 'ends_with') return `must end with ${quote(issue.suffix)}`;
      if (issue.format === 'includes') return `must contain ${quote(issue.includes)}`;
      return `must be ${FORMATS[issue.format] ?? `a valid ${issue.format}`}`;
    case 'not_multiple_of':
      return `must be a multiple of ${String(issue.divisor)}`;
    case 'invalid_value':
      return issue.values.length === 1 ? `must be ${quote(issue.values[0])}` : `must be one of ${listOf(issue.values.map(quote), 'or')}`;
    case 'unrecognized_keys': {
      // The known names, for the sentence issuesToErrors writes about each unknown one.
      const shape = (issue.inst as { shape?: Record<string, unknown> } | undefined)?.shape;
      return shape ? Object.keys(shape).join(', ') : '';
    }
    case 'invalid_union':
      return 'matches none of the accepted forms';
    case 'invalid_key':
      return 'has a key that is not allowed';
    case 'invalid_element':
      return 'has an element that is not allowed';
    default:
      return 'is invalid';
  }
}

// Every schema without a message of its own speaks through ruleOf: zod's own wording never reaches a client.
z.config({ customError: ruleOf });

/** A header's name as it is usually written (`if-match` → `If-Match`): one spelling in every answer. */
function headerName(name: string): string {
  return name.toLowerCase().replace(/(^|-)([a-z])/g, (_, dash: string, letter: string) => dash + letter.toUpperCase());
}

/** The field an issue is about, as a reader would name it: `pokemonsA[1]`, `limit`, `If-Match`. */
function fieldName(path: readonly PropertyKey[], target: Target): string {
  if (target === 'header') return headerName(String(path[0] ?? 'headers'));
  return path.map((key, index) => (typeof key === 'number' ? `[${key}]` : index === 0 ? String(key) : `.${String(key)}`)).join('');
}

const WHOLE: Record<Target, string> = {
  json: 'The request body',
  form: 'The form',
  query: 'The query',
  param: 'The path',
  header: 'The headers',
};

function locate(path: readonly PropertyKey[], detail: string, target: Target): FieldError {
  if (target === 'json' || target === 'form') {
    return { pointer: `/${path.map((p) => String(p).replaceAll('~', '~0').replaceAll('/', '~1')).join('/')}`, detail };
  }
  return { parameter: target === 'header' ? headerName(String(path[0] ?? '')) : path.map(String).join('.'), detail };
}

/** `detail` as a sentence about the field at `path` ("level must be at most 100."). */
function sentence(path: readonly PropertyKey[], rule: string, target: Target): string {
  const subject = path.length === 0 ? WHOLE[target] : fieldName(path, target);
  return `${subject} ${rule}.`;
}

function unknownName(path: readonly PropertyKey[], key: string, known: string, target: Target): string {
  const name = fieldName([...path, key], target);
  if (target === 'query') {
    return known ? `${name} is not a query parameter of this route; it takes ${listOf(known.split(', '))}.` : `${name} is not a query parameter; this route takes none.`;
  }
  return known ? `${name} is not a known field; the fields are ${listOf(known.split(', '))}.` : `${name} is not a known field.`;
}

/**
 * One error per zod issue (one per unknown field), each a sentence naming its field. `input`
 * is what was validated: a query parameter sent more than once arrives as a list, and is
 * reported as such rather than as a type mismatch.
 */
function issuesToErrors(issues: readonly z.core.$ZodIssue[], target: Target, input?: unknown): FieldError[] {
  return issues.flatMap((issue) => {
    const path = issue.path;
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => locate([...path, key], unknownName(path, key, issue.message, target), target));
    }
    if (target === 'query' && path.length === 1) {
      const sent = (input as Record<string, unknown> | undefined)?.[String(path[0])];
      if (Array.isArray(sent)) return [locate(path, `${fieldName(path, target)} must be sent once, not ${sent.length} times.`, target)];
    }
    return [locate(path, sentence(path, issue.message, target), target)];
  });
}

/** The field an error names, for the summary sentence; `''` for the body as a whole. */
function whereOf(error: FieldError): string {
  if (error.parameter !== undefined) return error.parameter;
  return error.pointer.slice(1).replaceAll('/', '.');
}

/** The summary `detail` of a 422 listing `errors` found in `target`. */
function summary(errors: readonly FieldError[], target: InvalidTarget): string {
  const names = [...new Set(errors.map(whereOf).filter((name) => name !== ''))];
  // Only the whole was at fault ("must contain at least one of …"): its own sentence says it.
  if (names.length === 0) return errors[0]!.detail;
  const list = listOf(names);
  switch (target) {
    case 'json':
    case 'form':
      return `The request body has ${plural(names.length, 'invalid field')}: ${list}.`;
    case 'query':
      return `${names.length === 1 ? 'A query parameter is' : `${names.length} query parameters are`} invalid: ${list}.`;
    case 'header':
      return `${names.length === 1 ? 'A header is' : `${names.length} headers are`} invalid: ${list}.`;
  }
}

/** The 422 answering `errors` (a non-empty list) found in `target`. */
export function invalid(errors: FieldError[], target: InvalidTarget = 'json'): Problem {
  return new Problem('validation-failed', summary(errors, target), { errors });
}

/**
 * Checks of a body that need the database (does the owner exist?), run even when other fields
 * failed validation so that one 422 lists every problem. `invalid` holds the pointers that
 * already failed; a check skips those and any value of the wrong type.
 */
export type ReferenceCheck = (c: Context<AppEnv>, body: Record<string, unknown>, invalid: ReadonlySet<string>) => Promise<FieldError[]>;

/**
 * The hook of a route: any validation failure is a 422 problem (with `references` run on a
 * failed JSON body). It never answers itself, it throws: hence its `never` result, which fits
 * every route's hook type.
 */
export function validationHookWith(references?: ReferenceCheck): Hook<unknown, AppEnv, string, never> {
  const hook: Hook<unknown, AppEnv, string, Promise<undefined>> = async (result, c) => {
    if (result.success) return;
    const target = result.target as Target;
    // An id that cannot exist names nothing: that is a 404, not a validation error.
    if (target === 'param') throw new Problem('not-found', `Nothing exists at ${c.req.path}.`);
    const input = (result as { data?: unknown }).data;
    const errors = issuesToErrors(result.error.issues, target, input);
    if (references && target === 'json' && typeof input === 'object' && input !== null && !Array.isArray(input)) {
      const failed = new Set(errors.flatMap((error) => error.pointer ?? []));
      errors.push(...(await references(c, input as Record<string, unknown>, failed)));
    }
    throw invalid(errors, target);
  };
  return hook as unknown as Hook<unknown, AppEnv, string, never>;
}

/** The `defaultHook` of every router. */
export const validationHook = validationHookWith();

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

