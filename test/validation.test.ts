/**
 * The words of every zod rule (src/platform/validation.ts installs them as zod's error map):
 * a schema without a message of its own still answers in the project's sentences, whichever
 * rule it breaks — including rules no route uses yet, so that a new schema never leaks zod's wording.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { DependencyUnavailableError } from '../src/platform/dependency-error.ts';
import '../src/platform/validation.ts';
import { listOf } from '../src/platform/wording.ts';

function ruleBroken(schema: z.ZodType, input: unknown): string {
  const result = schema.safeParse(input);
  if (result.success) throw new Error(`${JSON.stringify(input)} was accepted`);
  return result.error.issues[0]!.message;
}

describe('the rule a value broke, in words', () => {
  it('names the expected type and what was sent instead', () => {
    const text = z.string();
    expect(ruleBroken(text, undefined)).toBe('is required');
    expect(ruleBroken(text, null)).toBe('must be text (a JSON string), not null');
    expect(ruleBroken(text, [1])).toBe('must be text (a JSON string), not a list');
    expect(ruleBroken(text, 7)).toBe('must be text (a JSON string), not a number');
    expect(ruleBroken(text, true)).toBe('must be text (a JSON string), not true');
    expect(ruleBroken(text, false)).toBe('must be text (a JSON string), not false');
    expect(ruleBroken(text, {})).toBe('must be text (a JSON string), not an object');
    expect(ruleBroken(z.number(), 'seven')).toBe('must be a number, not text');
    expect(ruleBroken(z.boolean(), 1)).toBe('must be true or false, not a number');
    expect(ruleBroken(z.array(z.string()), {})).toBe('must be a list (a JSON array), not an object');
    // A type without words of its own is named as zod names it.
    expect(ruleBroken(z.symbol(), 1)).toBe('must be symbol, not a number');
    // …and so is a value JSON cannot carry.
    expect(ruleBroken(text, Symbol('x'))).toBe('must be text (a JSON string), not symbol');
    expect(ruleBroken(z.number(), NaN)).toBe('must be a number, not not a number');
  });

  it('words bounds by what they bound', () => {
    expect(ruleBroken(z.string().min(1), '')).toBe('must not be empty');
    expect(ruleBroken(z.string().min(3), 'ab')).toBe('must be at least 3 characters long');
    expect(ruleBroken(z.string().max(1), 'ab')).toBe('must be at most 1 character long');
    expect(ruleBroken(z.array(z.number()).min(1), [])).toBe('must not be empty');
    expect(ruleBroken(z.array(z.number()).max(2), [1, 2, 3])).toBe('must have at most 2 items');
    expect(ruleBroken(z.set(z.number()).min(2), new Set([1]))).toBe('must have at least 2 items');
    expect(ruleBroken(z.file().min(5), new File(['abc'], 'a.txt'))).toBe('must be at least 5 bytes');
    expect(ruleBroken(z.number().min(1), 0)).toBe('must be at least 1');
    expect(ruleBroken(z.number().max(100), 101)).toBe('must be at most 100');
    expect(ruleBroken(z.number().gt(0), 0)).toBe('must be greater than 0');
    expect(ruleBroken(z.number().lt(5), 5)).toBe('must be less than 5');
    expect(ruleBroken(z.number().multipleOf(5), 3)).toBe('must be a multiple of 5');
  });

  it('names formats in words, and an unnamed one by its name', () => {
    expect(ruleBroken(z.string().regex(/^[a-z]+$/), 'A1')).toBe('must match the pattern /^[a-z]+$/');
    expect(ruleBroken(z.string().startsWith('poke'), 'mon')).toBe('must start with "poke"');
    expect(ruleBroken(z.string().endsWith('mon'), 'poke')).toBe('must end with "mon"');
    expect(ruleBroken(z.string().includes('@'), 'ash')).toBe('must contain "@"');
    expect(ruleBroken(z.email(), 'ash')).toBe('must be an email address');
    expect(ruleBroken(z.uuid(), 'ash')).toBe('must be a UUID');
    expect(ruleBroken(z.iso.date(), '2030-13-01')).toBe('must be a date written YYYY-MM-DD');
    expect(ruleBroken(z.cuid(), '!')).toBe('must be a valid cuid');
  });

  it('lists the accepted values', () => {
    expect(ruleBroken(z.literal('red'), 'blue')).toBe('must be "red"');
    expect(ruleBroken(z.enum(['red', 'blue']), 'green')).toBe('must be one of "red" or "blue"');
    expect(ruleBroken(z.literal(3), 4)).toBe('must be 3');
  });

  it('words unions, keys, elements and custom rules', () => {
    const textOrNumber = z.union([z.string(), z.number()]);
    expect(ruleBroken(textOrNumber, undefined)).toBe('is required');
    expect(ruleBroken(textOrNumber, true)).toBe('matches none of the accepted forms');
    expect(ruleBroken(z.record(z.string().min(2), z.number()), { a: 1 })).toBe('has a key that is not allowed');
    expect(ruleBroken(z.map(z.object({}), z.number()), new Map([[{}, 'one']]))).toBe('has an element that is not allowed');
    expect(ruleBroken(z.string().refine(() => false), 'a')).toBe('is invalid');
    // An unknown field's message is the list of the known ones (issuesToErrors builds the sentence).
    expect(ruleBroken(z.strictObject({ name: z.string(), level: z.number() }), { name: 'a', level: 1, x: 0 })).toBe('name, level');
  });
});

describe('lists in sentences', () => {
  it('joins none, one, two and more items', () => {
    expect(listOf([])).toBe('');
    expect(listOf(['a'])).toBe('a');
    expect(listOf(['a', 'b'], 'or')).toBe('a or b');
    expect(listOf(['a', 'b', 'c'])).toBe('a, b and c');
  });
});

describe('a dependency that failed', () => {
  it('names the dependency and what it failed with, whether an Error or another value was thrown', () => {
    expect(new DependencyUnavailableError('redis', new Error('connect ECONNREFUSED')).message).toBe('redis unavailable: connect ECONNREFUSED');
    const rejected = new DependencyUnavailableError('db', 'socket hang up');
    expect(rejected.dependency).toBe('db');
    expect(rejected.cause).toBe('socket hang up');
    expect(rejected.message).toBe('database unavailable: socket hang up');
  });
});
