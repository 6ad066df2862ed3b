/**
 * Field rules shared by the JSON API and CSV uploads: one source of truth for what a valid
 * trainer or Pokémon is.
 */
import { z } from 'zod';

export const MIN_DATE = '1900-01-01';

/** Today's date in UTC as `YYYY-MM-DD`. */
export function today(): string {
  return new Date().toISOString().slice(0, 10);
}

/** True when `value` is a real calendar date `YYYY-MM-DD` (no `2000-02-31` rolling over). */
export function isCalendarDate(value: string): boolean {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!match) return false;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

/**
 * Free text that Postgres can store and every client can encode: trimmed, 1–`max` characters,
 * no NUL (Postgres text refuses it) and no lone surrogate (not valid UTF-8 on the wire).
 */
export function textSchema(max: number) {
  return z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .max(max, `must be at most ${max} characters long`)
    .refine((value) => !value.includes('\0'), 'must not contain NUL characters')
    .refine((value) => value.isWellFormed(), 'must be valid Unicode (no lone surrogates)');
}

export const firstNameSchema = textSchema(100);
export const lastNameSchema = textSchema(100);
export const nicknameSchema = textSchema(100);

/** A past-or-present calendar date, not before 1900-01-01. */
export const pastDateSchema = z
  .string()
  .refine(isCalendarDate, 'must be a real date written YYYY-MM-DD')
  .refine((value) => !isCalendarDate(value) || value >= MIN_DATE, `must not be before ${MIN_DATE}`)
  .refine((value) => !isCalendarDate(value) || value <= today(), 'must not be in the future')
  .meta({ format: 'date', example: '2010-05-17' });

export const levelSchema = z
  .number({ error: 'must be a whole number from 1 to 100' })
  .int('must be a whole number from 1 to 100')
  .min(1, 'must be a whole number from 1 to 100')
  .max(100, 'must be a whole number from 1 to 100');

/** A species name as typed by a user; matched against the Pokédex case- and punctuation-insensitively. */
export const speciesNameSchema = textSchema(100);

/** A national dex number written in digits ("25"): wherever a species is named, it may be named so. */
export const DEX_NUMBER = /^[0-9]{1,5}$/;

/** A species in a JSON body: its name, or its national dex number (`25` or `"25"`). */
export const speciesSchema = z.union([z.int().min(1).max(99_999), speciesNameSchema], {
  // Absent: the usual "is required".
  error: (issue) => (issue.input === undefined ? undefined : 'must be a species name or a national dex number'),
});

/** Lower-case letters and digits only (`Mr. Mime` → `mrmime`): the key species are matched on. */
export function speciesSlug(name: string): string {
  return name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '');
}

/** A field clients must not send (e.g. an immutable id): sending it is a 422 that says `message`. */
export function forbiddenField(message: string) {
  return z
    .unknown()
    .refine((value) => value === undefined, message)
    .optional()
    // `not: {}`: no value is valid, i.e. the field must be left out.
    .meta({ readOnly: true, description: message, not: {} });
}
