/**
 * What each upload type's CSV holds: its columns, in staged order, with the field rules of the
 * JSON API (from `fields.ts`) applied to text cells. A cell check returns the staged value (trimmed
 * names, ISO dates, species slugs) or why the cell is invalid.
 */
import type { z } from 'zod';
import { idSchema, WHOLE_NUMBER } from '../../platform/text-schemas.ts';
import { firstNameSchema, lastNameSchema, levelSchema, nicknameSchema, pastDateSchema, speciesNameSchema, speciesSlug, DEX_NUMBER } from '../fields.ts';

export const UPLOAD_TYPES = ['trainer', 'pokemon'] as const;
export type UploadType = (typeof UPLOAD_TYPES)[number];

/** A cell's staged value, or why it is invalid. */
export type CellResult = { ok: true; value: string } | { ok: false; detail: string };

export interface Column {
  /** The header name, as the CSV must spell it. */
  name: string;
  check(cell: string): CellResult;
  /** Few distinct values repeat across rows (dates, species, levels): worth remembering per upload. */
  repeats?: boolean;
  /** The value must exist in the database: a trainer's id, or a species' slug. */
  references?: 'trainer' | 'species';
}

export interface UploadKind {
  type: UploadType;
  /** Staged column order; the commit SQL reads them in this order. */
  columns: readonly Column[];
  /** A staged row as the JSON API shows it (`speciesNames`: slug → Pokédex name). */
  preview(values: readonly string[], speciesNames: Readonly<Record<string, string>>): Record<string, string | number>;
}

/**
 * A spreadsheet's text marker: OWASP's CSV-injection guidance has exports (`pokemon export`)
 * put `'` before a cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return, so
 * that a spreadsheet shows it as text. Names may start with those and ids with `-`, so a text
 * cell of `'` followed by such a cell (itself possibly escaped) loses that one `'`; any other
 * `'` is data. Exports add one to exactly these cells, so the round trip is exact.
 */
const NEUTRALISED_FORMULA = /^'(?='*[=+\-@\t\r])/;

/** A cell a spreadsheet would read as a formula, possibly behind `'` escapes. */
const FORMULA_LIKE = /^'*[=+\-@\t\r]/;

/** What an export writes for `value`: the cell a spreadsheet shows as text and an upload reads back as `value`. */
export function neutralised(value: string): string {
  return FORMULA_LIKE.test(value) ? `'${value}` : value;
}

/** Runs a shared zod field rule on a text cell, with a neutralising `'` taken off. */
function bySchema(schema: z.ZodType<string, string>): (cell: string) => CellResult {
  return (cell) => {
    const result = schema.safeParse(cell.replace(NEUTRALISED_FORMULA, ''));
    return result.success ? { ok: true, value: result.data } : { ok: false, detail: result.error.issues[0]!.message };
  };
}

const DAY_FIRST = /^(\d{2})-(\d{2})-(\d{4})$/;
const checkPastDate = bySchema(pastDateSchema);

/** `YYYY-MM-DD`, or the original system's `DD-MM-YYYY`, staged as `YYYY-MM-DD` and held to the JSON API's date rule. */
function checkDate(cell: string): CellResult {
  const text = cell.trim();
  const dayFirst = DAY_FIRST.exec(text);
  if (!dayFirst && !/^\d{4}-\d{2}-\d{2}$/.test(text)) return { ok: false, detail: 'must be a date written YYYY-MM-DD or DD-MM-YYYY' };
  return checkPastDate(dayFirst ? `${dayFirst[3]}-${dayFirst[2]}-${dayFirst[1]}` : text);
}

/** A whole number written in digits only (no sign, space, fraction or exponent); anything else fails the level rule's own message. */
function checkLevel(cell: string): CellResult {
  const result = levelSchema.safeParse(WHOLE_NUMBER.test(cell) ? Number(cell) : Number.NaN);
  return result.success ? { ok: true, value: String(result.data) } : { ok: false, detail: result.error.issues[0]!.message };
}

/**
 * A species name, staged as its slug, or a dex number, staged as its digits (no slug is only
 * digits); whether the Pokédex has it is checked against the database.
 */
function checkSpecies(cell: string): CellResult {
  if (DEX_NUMBER.test(cell.trim())) return { ok: true, value: String(Number(cell)) };
  const name = speciesNameSchema.safeParse(cell.replace(NEUTRALISED_FORMULA, ''));
  if (!name.success) return { ok: false, detail: name.error.issues[0]!.message };
  const slug = speciesSlug(name.data);
  return slug ? { ok: true, value: slug } : { ok: false, detail: 'is not a Pokémon species' };
}

const checkId = bySchema(idSchema);

export const trainerKind: UploadKind = {
  type: 'trainer',
  columns: [
    { name: 'id', check: checkId },
    { name: 'firstName', check: bySchema(firstNameSchema) },
    { name: 'lastName', check: bySchema(lastNameSchema) },
    { name: 'dateOfBirth', check: checkDate, repeats: true },
  ],
  preview: ([id, firstName, lastName, dateOfBirth]) => ({ id: id!, firstName: firstName!, lastName: lastName!, dateOfBirth: dateOfBirth! }),
};

export const pokemonKind: UploadKind = {
  type: 'pokemon',
  columns: [
    { name: 'id', check: checkId },
    { name: 'nickname', check: bySchema(nicknameSchema) },
    { name: 'species', check: checkSpecies, repeats: true, references: 'species' },
    { name: 'level', check: checkLevel, repeats: true },
    { name: 'owner', check: checkId, references: 'trainer' },
    { name: 'dateOfOwnership', check: checkDate, repeats: true },
  ],
  preview: ([id, nickname, slug, level, owner, dateOfOwnership], speciesNames) => ({
    id: id!,
    nickname: nickname!,
    species: speciesNames[slug!] ?? slug!,
    level: Number(level),
    owner: owner!,
    dateOfOwnership: dateOfOwnership!,
  }),
};

export const UPLOAD_KINDS: Record<UploadType, UploadKind> = { trainer: trainerKind, pokemon: pokemonKind };
