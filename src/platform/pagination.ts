/**
 * Opaque keyset cursors: the last key of a page, base64url-encoded. Pages are ordered by a
 * unique key, so walking every page returns every row once, even while rows are inserted.
 */
import { z } from '@hono/zod-openapi';
import { Problem } from './problem.ts';
import { idSchema, wholeNumberText } from './text-schemas.ts';

/** Keys a cursor can carry: a row id, or a positive int4 (dex numbers). */
function isKey(value: unknown, type: 'string' | 'number'): boolean {
  if (type === 'number') return Number.isSafeInteger(value) && (value as number) >= 0 && (value as number) <= 2_147_483_647;
  return idSchema.safeParse(value).success;
}

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

export function encodeCursor(lastKey: string | number): string {
  return btoa(JSON.stringify({ after: lastKey })).replaceAll('+', '-').replaceAll('/', '_').replaceAll('=', '');
}

/** Decodes a cursor made by {@link encodeCursor}; anything else is a 422 naming the parameter. */
export function decodeCursor<T extends string | number>(cursor: string | undefined, type: 'string' | 'number'): T | undefined {
  if (cursor === undefined) return undefined;
  try {
    const { after } = JSON.parse(atob(cursor.replaceAll('-', '+').replaceAll('_', '/'))) as { after?: unknown };
    if (isKey(after, type)) return after as T;
  } catch {
    // fall through to the problem below
  }
  throw invalidCursor();
}

/** The 422 for a cursor this API did not issue (or whose row no longer exists). */
export function invalidCursor(): Problem {
  return new Problem('validation-failed', 'The cursor is not one this API issued.', {
    errors: [{ parameter: 'cursor', detail: 'cursor must be the nextCursor of a previous page.' }],
  });
}

/** Splits `limit + 1` fetched rows into a page and the cursor to the next one. */
export function toPage<T>(rows: T[], limit: number, keyOf: (row: T) => string | number): { data: T[]; nextCursor: string | null } {
  const data = rows.slice(0, limit);
  const last = data.at(-1);
  return { data, nextCursor: rows.length > limit && last !== undefined ? encodeCursor(keyOf(last)) : null };
}

/** `limit` and `cursor` query parameters, shared by every list route. */
export const pageQuerySchema = z.object({
  limit: wholeNumberText(1, MAX_PAGE_SIZE)
    .default(DEFAULT_PAGE_SIZE)
    .openapi({ example: 20, type: 'integer', minimum: 1, maximum: MAX_PAGE_SIZE }),
  cursor: z.string().optional().openapi({ description: 'The `nextCursor` of the previous page.' }),
});

/** The `{data, nextCursor}` envelope of every list response. */
export function pageSchema<T extends z.ZodType>(item: T) {
  return z.object({ data: z.array(item), nextCursor: z.string().nullable() });
}
