/**
 * Text rules below the domain, for every layer: what an id is (in paths, bodies and cursors) and
 * a whole number as written in text (query parameters, CSV cells).
 */
import { z } from 'zod';

/** An id: what a path segment, a body and a cursor may carry. */
export const idSchema = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1–64 characters of A–Z, a–z, 0–9, "_", "." or "-"')
  // A path segment of `.` or `..` is resolved away by URL parsers: such an id could never be addressed.
  .refine((value) => value !== '.' && value !== '..', 'must not be "." or ".." (they cannot appear in a URL path)');

/** A whole number as written in a query parameter or a CSV cell: decimal digits only (no sign, space, `0x`, exponent or fraction). */
export const WHOLE_NUMBER = /^[0-9]{1,9}$/;

/**
 * A whole number from `min` to `max` written as text (query parameters): digits only, so
 * `0x10`, `1e2`, `" 5"` and `5.0` are refused rather than coerced. Parsed to a number.
 */
export function wholeNumberText(min: number, max: number, message = `must be a whole number from ${min} to ${max}`) {
  return z
    .string()
    .regex(WHOLE_NUMBER, message)
    .transform(Number)
    .pipe(z.number().int(message).min(min, message).max(max, message));
}
