/**
 * From a CSV body to a staged upload, all or nothing: every row is checked (field rules,
 * duplicate ids, then existing ids, owners and species against the database in batched
 * queries); any error answers 422 listing them all and leaves nothing staged, otherwise the
 * rows are staged in Redis with the upload's TTL.
 *
 * The body is streamed: memory holds the ids seen (for duplicates) and at most one Redis
 * write's worth of chunks. Small uploads are staged in one round trip at the end; large ones
 * start writing chunks while still reading, as long as no error has been found, and take them
 * back if one is found later.
 */
import { missingSpecies, notInPokedex } from '../species.ts';
import type { Redis } from '../../platform/redis.ts';
import type { Database } from '../../platform/database.ts';
import { DomainError } from '../errors.ts';
import { ChunkBuilder, CHUNKS_PER_PART, type Chunk } from './chunks.ts';
import { MAX_FIELDS, type CsvRecord } from './csv.ts';
import type { CellResult, UploadKind } from './kinds.ts';
import { lookUpReferences, type DatedConflict, type ReferenceBatch } from './references.ts';

const emptyBatch = (): ReferenceBatch => ({ ids: [], owners: [], slugs: [], dated: { ids: [], owners: [], dates: [] } });
import { StagedWriter, type OnConflict, type StagingQuota, type UploadMeta } from './staging.ts';

/** Errors listed in a 422 (all are counted in `errorCount`). */
export const MAX_LISTED_ERRORS = 1000;
const PREVIEW_ROWS = 10;
/** Characters of ids, references and dated rows per lookup query: under the 10 MiB request limit (100,000 rows: one lookup). */
const LOOKUP_CHARS = 8 * 1024 * 1024;

/** Characters of a value a 422 echoes; longer ones are cut and end with "…" (a 5 MB cell is not sent back). */
export const MAX_ECHOED_CHARS = 100;

/** `value` as an error may echo it: at most {@link MAX_ECHOED_CHARS} characters (never half a surrogate pair), then "…". */
export function echoed(value: string): string {
  if (value.length <= MAX_ECHOED_CHARS) return detach(value);
  const cut = value.charCodeAt(MAX_ECHOED_CHARS - 1) >= 0xd800 && value.charCodeAt(MAX_ECHOED_CHARS - 1) <= 0xdbff ? MAX_ECHOED_CHARS - 1 : MAX_ECHOED_CHARS;
  return `${value.slice(0, cut)}…`;
}

/** One invalid cell (or row, or header name): what the 422 lists. */
export interface RowError {
  line: number;
  column: string;
  value: string;
  detail: string;
}

export interface StageRequest {
  kind: UploadKind;
  onConflict: OnConflict;
  records: AsyncIterable<CsvRecord[]>;
  settings: { maxRows: number; ttlSeconds: number };
  /** The caller's staging quota; none for a caller without one. */
  quota?: StagingQuota | undefined;
}

export interface StagedUpload {
  meta: UploadMeta;
  preview: Record<string, string | number>[];
}

/**
 * Copies a string out of the text chunk it was sliced from. V8 keeps a whole chunk alive for
 * as long as any slice of it is; ids and references outlive their chunk.
 */
function detach(text: string): string {
  return (' ' + text).slice(1);
}

/** Keeps the first {@link MAX_LISTED_ERRORS} errors by line, however they arrive, and counts them all. */
class ErrorList {
  #errors: (RowError & { order: number })[] = [];
  count = 0;

  add(error: RowError, order: number): void {
    this.count += 1;
    this.#errors.push({ line: error.line, column: echoed(error.column), value: echoed(error.value), detail: error.detail, order });
    if (this.#errors.length >= 2 * MAX_LISTED_ERRORS) this.#trim();
  }

  /** The listed errors, in file order. */
  list(): RowError[] {
    this.#trim();
    return this.#errors.map(({ order: _order, ...error }) => error);
  }

  #trim(): void {
    this.#errors.sort((a, b) => a.line - b.line || a.order - b.order);
    this.#errors.length = Math.min(this.#errors.length, MAX_LISTED_ERRORS);
  }
}

/** 422 for the whole file, listing `errors`. */
function invalidFile(detail: string, errors: RowError[], errorCount = errors.length): DomainError {
  return new DomainError('invalid', detail, { errors, errorCount });
}

/**
 * Where each of the kind's columns sits in the header row; 422 naming every missing, unknown or
 * repeated column (listed and echoed within the same bounds as row errors).
 */
function matchHeader(kind: UploadKind, header: CsvRecord): number[] {
  const wanted = new Map(kind.columns.map((column, index) => [column.name.toLowerCase(), index]));
  const positions = new Array<number>(kind.columns.length).fill(-1);
  const errors = new ErrorList();
  const expected = kind.columns.map((column) => column.name).join(', ');
  header.fields.forEach((raw, position) => {
    const name = raw.trim();
    const index = wanted.get(name.toLowerCase());
    if (index === undefined) {
      errors.add({ line: header.line, column: name, value: raw, detail: `is not a column of ${kind.type} uploads (expected ${expected})` }, position);
    } else if (positions[index] !== -1) {
      errors.add({ line: header.line, column: name, value: raw, detail: 'appears twice in the header' }, position);
    } else {
      positions[index] = position;
    }
  });
  if (header.error) {
    const { field, detail } = header.error;
    errors.add({ line: header.line, column: header.fields[field]?.trim() ?? '', value: header.fields[field] ?? '', detail }, field);
  }
  kind.columns.forEach((column, index) => {
    if (positions[index] === -1) errors.add({ line: header.line, column: column.name, value: '', detail: 'is missing from the header' }, MAX_FIELDS + index);
  });
  if (errors.count > 0) throw invalidFile(`The header row does not match a ${kind.type} upload: ${expected}.`, errors.list(), errors.count);
  return positions;
}

/** Per-upload cell checks; columns whose values repeat remember their results. */
function cellChecks(kind: UploadKind): ((cell: string) => CellResult)[] {
  return kind.columns.map(({ check, repeats }) => {
    if (!repeats) return check;
    const seen = new Map<string, CellResult>();
    return (cell) => {
      let result = seen.get(cell);
      if (!result) seen.set(cell, (result = check(cell)));
      return result;
    };
  });
}

/**
 * Lines of every id and reference in the file, and what the database said about them.
 * Lookups run in batches while reading (one at the end for most files).
 */
class References {
  readonly idLines = new Map<string, number>();
  readonly #ownerLines = new Map<string, number[]>();
  /** Species cell (trimmed, as written) → its slug and lines. */
  readonly #speciesCells = new Map<string, { slug: string; lines: number[] }>();
  #pending: ReferenceBatch = emptyBatch();
  #pendingChars = 0;
  readonly #sentSlugs = new Set<string>();
  readonly #existingIds: string[] = [];
  readonly #dated: DatedConflict[] = [];
  readonly #missingOwners = new Set<string>();
  speciesNames: Record<string, string> = {};
  #speciesSuggestions = new Map<string, string[]>();

  /** False with onConflict=update: existing ids are then updates, not errors. */
  readonly checkIds: boolean;

  constructor(checkIds: boolean) {
    this.checkIds = checkIds;
  }

  /** Records a valid id; returns the line it first appeared on if it is a duplicate. */
  addId(id: string, line: number): number | undefined {
    const first = this.idLines.get(id);
    if (first !== undefined) return first;
    const kept = detach(id);
    this.idLines.set(kept, line);
    if (this.checkIds) this.#queue(this.#pending.ids, kept);
    return undefined;
  }

  addOwner(owner: string, line: number): void {
    const lines = this.#ownerLines.get(owner);
    if (lines) return void lines.push(line);
    const kept = detach(owner);
    this.#ownerLines.set(kept, [line]);
    this.#queue(this.#pending.owners, kept);
  }

  addSpecies(cell: string, slug: string, line: number): void {
    const entry = this.#speciesCells.get(cell);
    if (entry) return void entry.lines.push(line);
    this.#speciesCells.set(detach(cell), { slug, lines: [line] });
    if (!this.#sentSlugs.has(slug)) {
      this.#sentSlugs.add(slug);
      this.#queue(this.#pending.slugs, detach(slug));
    }
  }

  /** Records a valid row's date (see {@link ReferenceBatch.dated}); `owner` for Pokémon rows. */
  addDated(id: string, date: string, owner = ''): void {
    const { dated } = this.#pending;
    dated.ids.push(detach(id));
    dated.owners.push(detach(owner));
    dated.dates.push(date);
    this.#pendingChars += id.length + owner.length + date.length + 3;
  }

  /** True once enough is queued for a lookup of its own. */
  get full(): boolean {
    return this.#pendingChars >= LOOKUP_CHARS;
  }

  /** Sends what is queued, if anything (one round trip). */
  async lookUp(db: Database, kind: UploadKind): Promise<void> {
    const batch = this.#pending;
    if (batch.ids.length + batch.owners.length + batch.slugs.length + batch.dated.ids.length === 0) return;
    this.#pending = emptyBatch();
    this.#pendingChars = 0;
    const facts = await lookUpReferences(db, kind.type, batch, !this.checkIds);
    this.#existingIds.push(...facts.existingIds);
    this.#dated.push(...facts.dated);
    for (const owner of facts.missingOwners) this.#missingOwners.add(owner);
    Object.assign(this.speciesNames, facts.speciesNames);
  }

  /** Suggestions for each species cell the Pokédex does not have (one round trip, only when there is one). */
  async suggestSpecies(db: Database): Promise<void> {
    const missing = [...this.#speciesCells].filter(([, { slug }]) => !(slug in this.speciesNames)).map(([cell]) => cell);
    if (missing.length > 0) this.#speciesSuggestions = await missingSpecies(db, missing);
  }

  /** The errors the lookups found, for every line concerned. */
  report(errors: ErrorList, columnOrder: (name: string) => number): void {
    for (const id of this.#existingIds) {
      const detail = 'already exists (send onConflict=update to update it)';
      errors.add({ line: this.idLines.get(id)!, column: 'id', value: id, detail }, columnOrder('id'));
    }
    for (const row of this.#dated) this.#reportDated(errors, columnOrder, row);
    for (const owner of this.#missingOwners) {
      for (const line of this.#ownerLines.get(owner)!) {
        errors.add({ line, column: 'owner', value: owner, detail: 'is not the id of a trainer' }, columnOrder('owner'));
      }
    }
    for (const [cell, { slug, lines }] of this.#speciesCells) {
      if (slug in this.speciesNames) continue;
      const detail = notInPokedex(this.#speciesSuggestions.get(cell) ?? []);
      for (const line of lines) errors.add({ line, column: 'species', value: cell, detail }, columnOrder('species'));
    }
  }

  #reportDated(errors: ErrorList, columnOrder: (name: string) => number, row: DatedConflict): void {
    const line = this.idLines.get(row.id)!;
    if (row.owner === undefined) {
      const detail = `is after ${row.limit}, when this trainer came to own one of their Pokémon`;
      return errors.add({ line, column: 'dateOfBirth', value: row.date, detail }, columnOrder('dateOfBirth'));
    }
    const exchangesOnly = 'ownership changes only through exchanges';
    if (row.currentOwner != null && row.currentOwner !== row.owner) {
      const detail = `is not the current owner "${row.currentOwner}" of this Pokémon; ${exchangesOnly}`;
      errors.add({ line, column: 'owner', value: row.owner, detail }, columnOrder('owner'));
    } else if (row.currentDate != null && row.currentDate !== row.date) {
      const detail = `differs from the recorded ${row.currentDate}; ${exchangesOnly}`;
      errors.add({ line, column: 'dateOfOwnership', value: row.date, detail }, columnOrder('dateOfOwnership'));
    }
    if (row.limit != null) {
      const detail = `is before the owner's date of birth (${row.limit})`;
      errors.add({ line, column: 'dateOfOwnership', value: row.date, detail }, columnOrder('dateOfOwnership'));
    }
  }

  #queue(list: string[], value: string): void {
    list.push(value);
    this.#pendingChars += value.length + 3;
  }
}

/**
 * Validates and stages one CSV upload. Round trips: one lookup per ~8 MiB of ids and dated rows (one for
 * 100,000 rows) and one Redis write per 8 MiB of staged rows (one for 100,000 rows).
 * @throws DomainError `invalid` (file, header or rows; nothing staged), `too-large` (too many rows).
 */
export async function stageUpload(db: Database, redis: Redis, request: StageRequest): Promise<StagedUpload> {
  const { kind, onConflict, settings } = request;
  const id = crypto.randomUUID();
  const createdAt = new Date();
  const expiresAt = new Date(createdAt.getTime() + settings.ttlSeconds * 1000);
  const writer = new StagedWriter(redis, id, expiresAt, request.quota);
  const checks = cellChecks(kind);
  const names = kind.columns.map((column) => column.name);
  const columnOrder = (name: string) => names.indexOf(name);
  const indexOf = (name: string) => (names.includes(name) ? names.indexOf(name) : undefined);
  const ownerColumn = indexOf('owner');
  const dateColumn = indexOf('dateOfOwnership') ?? indexOf('dateOfBirth');
  const errors = new ErrorList();
  const references = new References(onConflict === 'error');
  const preview: string[][] = [];
  let builder: ChunkBuilder | undefined = new ChunkBuilder(kind.columns.length);
  let pending: Chunk[] = [];
  let positions: number[] | undefined;
  let headerWidth = 0;
  let rows = 0;

  /** Checks a row's cells; returns each cell's staged value (`undefined` where invalid), or nothing for a malformed row. */
  const checkRow = (record: CsvRecord): (string | undefined)[] | undefined => {
    const { line, fields } = record;
    if (record.error) {
      const column = names[positions!.indexOf(record.error.field)] ?? '';
      errors.add({ line, column, value: fields[record.error.field] ?? '', detail: record.error.detail }, 0);
      return undefined;
    }
    if (fields.length !== headerWidth) {
      errors.add({ line, column: '', value: '', detail: `has ${fields.length} fields; the header has ${headerWidth}` }, 0);
      return undefined;
    }
    return positions!.map((position, index) => {
      const cell = fields[position]!;
      const result = checks[index]!(cell);
      if (result.ok) return result.value;
      errors.add({ line, column: names[index]!, value: cell, detail: result.detail }, index);
      return undefined;
    });
  };

  /** Records the row's valid id and references (checked against the database later), and stages it if all is well so far. */
  const track = (record: CsvRecord, values: (string | undefined)[]) => {
    const { line } = record;
    const [rowId] = values;
    const duplicateOf = rowId === undefined ? undefined : references.addId(rowId, line);
    if (duplicateOf !== undefined) errors.add({ line, column: 'id', value: rowId!, detail: `repeats the id on line ${duplicateOf}` }, 0);
    kind.columns.forEach((column, index) => {
      const value = values[index];
      if (value === undefined) return;
      if (column.references === 'trainer') references.addOwner(value, line);
      if (column.references === 'species') references.addSpecies(record.fields[positions![index]!]!.trim(), value, line);
    });
    if (duplicateOf === undefined && rowId !== undefined) {
      const date = dateColumn === undefined ? undefined : values[dateColumn];
      const owner = ownerColumn === undefined ? '' : values[ownerColumn];
      // Pokémon rows always (owned before birth?); trainer rows only when they may update a trainer who owns Pokémon.
      if (date !== undefined && owner !== undefined && (ownerColumn !== undefined || onConflict === 'update')) references.addDated(rowId, date, owner);
    }
    if (errors.count > 0) return;
    const row = values as string[];
    builder?.add(row);
    if (preview.length < PREVIEW_ROWS) preview.push(row.map(detach));
  };

  try {
    for await (const batch of request.records) {
      for (const record of batch) {
        if (!positions) {
          positions = matchHeader(kind, record);
          headerWidth = record.fields.length;
          continue;
        }
        rows += 1;
        if (rows > settings.maxRows) {
          throw new DomainError('too-large', `The file has more than ${settings.maxRows} rows; split it into several uploads.`, { maxRows: settings.maxRows });
        }
        const values = checkRow(record);
        if (values) track(record, values);
      }
      if (errors.count > 0) {
        // Nothing will be staged: stop building chunks, keep checking.
        builder = undefined;
        pending = [];
      } else if (builder) {
        pending.push(...builder.take());
        if (pending.length >= CHUNKS_PER_PART) await writer.write(pending.splice(0));
      }
      if (references.full) await references.lookUp(db, kind);
    }
    if (!positions) throw invalidFile('The file is empty.', [{ line: 1, column: '', value: '', detail: 'a header row and at least one row are required' }]);
    if (rows === 0) throw invalidFile('The file has a header but no rows.', [{ line: 2, column: '', value: '', detail: 'at least one row is required' }]);
    await references.lookUp(db, kind);
    await references.suggestSpecies(db);
    references.report(errors, columnOrder);
    if (errors.count > 0) {
      throw invalidFile(`${errors.count} problem${errors.count === 1 ? '' : 's'} in the file; nothing was staged.`, errors.list(), errors.count);
    }
    const chunks = [...pending, ...builder!.finish()];
    const meta: UploadMeta = {
      id,
      type: kind.type,
      onConflict,
      status: 'staged',
      rows,
      chunks: writer.written + chunks.length,
      createdAt: createdAt.toISOString(),
      expiresAt: expiresAt.toISOString(),
    };
    await writer.write(chunks, meta);
    return { meta, preview: preview.map((values) => kind.preview(values, references.speciesNames)) };
  } catch (error) {
    // Best effort: chunks left behind have no status key (the upload never existed) and expire with the TTL.
    await writer.discard().catch(() => {});
    throw error;
  }
}
