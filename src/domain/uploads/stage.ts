/**
 * From a CSV body to a staged upload, all or nothing: every row is checked (field rules,
 * duplicate ids, then existing ids, owners and species against the database in batched
 * queries); any error answers 422 listing them all and leaves nothing staged, otherwise the
 * rows are staged in Redis with the upload's TTL.
 *
 * The body is streamed: memory holds one window's ids and references (see {@link Stager}) and
 * at most one Redis write's worth of chunks. Small uploads are staged in one round trip at the end; large ones
 * start writing chunks while still reading, as long as no error has been found, and take them
 * back if one is found later.
 */
import { missingSpecies, notInPokedex } from '../species.ts';
import type { Redis } from '../../platform/redis.ts';
import type { Database } from '../../platform/database.ts';
import { DomainError } from '../errors.ts';
import { ChunkBuilder, CHUNKS_PER_PART, type ChunkText } from './chunks.ts';
import { MAX_FIELDS, type CsvRecord } from './csv.ts';
import type { CellResult, UploadKind } from './kinds.ts';
import { lookUpReferences, type DatedConflict, type ReferenceBatch } from './references.ts';

const emptyBatch = (): ReferenceBatch => ({ ids: [], owners: [], slugs: [], dated: { ids: [], owners: [], dates: [] } });
import { earlierIds, StagedWriter, uploadKeys, type EarlierIds, type OnConflict, type RedisCommand, type StagingQuota, type UploadMeta } from './staging.ts';

/** Errors listed in a 422 (all are counted in `errorCount`). */
export const MAX_LISTED_ERRORS = 1000;
const PREVIEW_ROWS = 10;
/**
 * Characters of ids, references and dated rows per window: what one lookup query sends (under
 * the 10 MiB request limit; 100,000 rows: one window), and all of the rows' ids memory holds.
 */
const WINDOW_CHARS = 8 * 1024 * 1024;
/** Rows per window at most: each row holds some memory (its id's entry, its owner's and species' lines) however short its cells. */
const WINDOW_ROWS = 200_000;

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

  /** A list that carries on from `listed` (in file order) of `count` errors. */
  static restore(listed: RowError[], count: number): ErrorList {
    const list = new ErrorList();
    list.#errors = listed.map((error, order) => ({ ...error, order }));
    list.count = count;
    return list;
  }

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

/** How many distinct cells a repeating column remembers, and the longest: a hostile file's distinct cells cannot fill memory. */
const REMEMBERED_CELLS = 4096;
const REMEMBERED_CELL_CHARS = 64;

/** Per-upload cell checks; columns whose values repeat remember the results of their first distinct short cells. */
function cellChecks(kind: UploadKind): ((cell: string) => CellResult)[] {
  return kind.columns.map(({ check, repeats }) => {
    if (!repeats) return check;
    const seen = new Map<string, CellResult>();
    return (cell) => {
      let result = seen.get(cell);
      if (result) return result;
      result = check(cell);
      if (seen.size < REMEMBERED_CELLS && cell.length <= REMEMBERED_CELL_CHARS) seen.set(detach(cell), result);
      return result;
    };
  });
}

/**
 * Lines of every id and reference of one window, and what the database said about them (one
 * lookup, when the window settles).
 */
class References {
  readonly idLines = new Map<string, number>();
  /** Owner → the owner as kept, and its lines. */
  readonly #owners = new Map<string, { kept: string; lines: number[] }>();
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

  /**
   * Records a valid id: the line it first appeared on in this window if it is a duplicate,
   * otherwise the id as kept (detached from its chunk of text, for the other references to share).
   */
  addId(id: string, line: number): { duplicateOf: number } | { kept: string } {
    const first = this.idLines.get(id);
    if (first !== undefined) return { duplicateOf: first };
    const kept = detach(id);
    this.idLines.set(kept, line);
    if (this.checkIds) this.#queue(this.#pending.ids, kept);
    else this.#pendingChars += kept.length + 3;
    return { kept };
  }

  /** Records an owner; returns it as kept (one copy per distinct owner). */
  addOwner(owner: string, line: number): string {
    const entry = this.#owners.get(owner);
    if (entry) {
      entry.lines.push(line);
      return entry.kept;
    }
    const kept = detach(owner);
    this.#owners.set(kept, { kept, lines: [line] });
    this.#queue(this.#pending.owners, kept);
    return kept;
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

  /**
   * Records a valid row's date (see {@link ReferenceBatch.dated}); `owner` for Pokémon rows
   * (empty for trainer rows). `id` and `owner` as {@link addId} and {@link addOwner} kept them.
   */
  addDated(id: string, date: string, owner: string): void {
    const { dated } = this.#pending;
    dated.ids.push(id);
    dated.owners.push(owner);
    dated.dates.push(date);
    this.#pendingChars += id.length + owner.length + date.length + 3;
  }

  /** True once the window is full: enough is queued for a lookup of its own. */
  get full(): boolean {
    return this.#pendingChars >= WINDOW_CHARS;
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

  /** The errors the lookups found, for every line concerned; `repeated` ids (first seen in an earlier window or piece) are not checked again. */
  report(errors: ErrorList, columnOrder: (name: string) => number, repeated: ReadonlySet<string>): void {
    for (const id of this.#existingIds) {
      if (repeated.has(id)) continue;
      const detail = 'already exists (send onConflict=update to update it)';
      errors.add({ line: this.idLines.get(id)!, column: 'id', value: id, detail }, columnOrder('id'));
    }
    for (const row of this.#dated) if (!repeated.has(row.id)) this.#reportDated(errors, columnOrder, row);
    for (const owner of this.#missingOwners) {
      for (const line of this.#owners.get(owner)!.lines) {
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
 * What validation carries from one piece of a resumable upload to the next (JSON, kept in
 * Redis): the header, the row count, the errors so far, the preview and the staging counters.
 */
export interface StagerState {
  positions?: number[];
  headerWidth: number;
  rows: number;
  errors: { listed: RowError[]; count: number };
  preview: Record<string, string | number>[];
  written: number;
  counted: number;
}

/** Where a {@link Stager} keeps what it has settled: the staged chunks, and the ids of the rows. */
export interface StagerStore {
  writer: StagedWriter;
  earlier: EarlierIds;
}

/**
 * Validates rows as they arrive and stages them: the whole of a single-request upload, or one
 * piece of a resumable upload at a time ({@link pause} and a later {@link Stager.restore}).
 *
 * Rows are settled a window at a time ({@link WINDOW_CHARS} of ids and references, at most
 * {@link WINDOW_ROWS} rows): one lookup
 * of the window's ids and references in the database, one of its ids among those of earlier
 * windows and pieces, then the window's ids are recorded and it is forgotten. Memory holds one
 * window's ids whatever the size of the file or piece.
 */
export class Stager {
  readonly #db: Database;
  readonly #kind: UploadKind;
  readonly #onConflict: OnConflict;
  readonly #maxRows: number;
  readonly #writer: StagedWriter;
  readonly #earlier: EarlierIds;
  readonly #checks: ((cell: string) => CellResult)[];
  readonly #names: string[];
  readonly #ownerColumn: number | undefined;
  readonly #dateColumn: number | undefined;
  #errors = new ErrorList();
  #references: References;
  #previewValues: string[][] = [];
  #preview: Record<string, string | number>[] = [];
  #builder: ChunkBuilder | undefined;
  #pending: ChunkText[] = [];
  #positions: number[] | undefined;
  #headerWidth = 0;
  #rows = 0;
  /** Rows read since the window started. */
  #windowRows = 0;

  constructor(db: Database, request: Pick<StageRequest, 'kind' | 'onConflict' | 'settings'>, store: StagerStore) {
    const { kind, onConflict } = request;
    this.#db = db;
    this.#kind = kind;
    this.#onConflict = onConflict;
    this.#maxRows = request.settings.maxRows;
    this.#writer = store.writer;
    this.#earlier = store.earlier;
    this.#checks = cellChecks(kind);
    this.#names = kind.columns.map((column) => column.name);
    const indexOf = (name: string) => (this.#names.includes(name) ? this.#names.indexOf(name) : undefined);
    this.#ownerColumn = indexOf('owner');
    this.#dateColumn = indexOf('dateOfOwnership') ?? indexOf('dateOfBirth');
    this.#references = new References(onConflict === 'error');
    this.#builder = new ChunkBuilder(kind.columns.length);
  }

  /** A stager that carries on from `saved`. */
  static restore(db: Database, request: Pick<StageRequest, 'kind' | 'onConflict' | 'settings'>, store: StagerStore, saved: StagerState): Stager {
    const stager = new Stager(db, request, store);
    stager.#positions = saved.positions;
    stager.#headerWidth = saved.headerWidth;
    stager.#rows = saved.rows;
    stager.#errors = ErrorList.restore(saved.errors.listed, saved.errors.count);
    stager.#preview = saved.preview;
    if (saved.errors.count > 0) stager.#builder = undefined;
    return stager;
  }

  get rows(): number {
    return this.#rows;
  }

  get errorCount(): number {
    return this.#errors.count;
  }

  #columnOrder = (name: string) => this.#names.indexOf(name);

  /** Checks a row's cells; returns each cell's staged value (`undefined` where invalid), or nothing for a malformed row. */
  #checkRow(record: CsvRecord): (string | undefined)[] | undefined {
    const { line, fields } = record;
    const names = this.#names;
    if (record.error) {
      const column = names[this.#positions!.indexOf(record.error.field)] ?? '';
      this.#errors.add({ line, column, value: fields[record.error.field] ?? '', detail: record.error.detail }, 0);
      return undefined;
    }
    if (fields.length !== this.#headerWidth) {
      this.#errors.add({ line, column: '', value: '', detail: `has ${fields.length} fields; the header has ${this.#headerWidth}` }, 0);
      return undefined;
    }
    return this.#positions!.map((position, index) => {
      const cell = fields[position]!;
      const result = this.#checks[index]!(cell);
      if (result.ok) return result.value;
      this.#errors.add({ line, column: names[index]!, value: cell, detail: result.detail }, index);
      return undefined;
    });
  }

  /** Records the row's valid id and references (checked against the database later), and stages it if all is well so far. */
  #track(record: CsvRecord, values: (string | undefined)[]): void {
    const { line } = record;
    const references = this.#references;
    const [rowId] = values;
    const id = rowId === undefined ? undefined : references.addId(rowId, line);
    if (id && 'duplicateOf' in id) this.#errors.add({ line, column: 'id', value: rowId!, detail: `repeats the id on line ${id.duplicateOf}` }, 0);
    let owner = this.#ownerColumn === undefined ? '' : undefined;
    this.#kind.columns.forEach((column, index) => {
      const value = values[index];
      if (value === undefined) return;
      if (column.references === 'trainer') owner = references.addOwner(value, line);
      if (column.references === 'species') references.addSpecies(record.fields[this.#positions![index]!]!.trim(), value, line);
    });
    if (id && 'kept' in id) {
      const date = this.#dateColumn === undefined ? undefined : values[this.#dateColumn];
      // Pokémon rows always (owned before birth?); trainer rows only when they may update a trainer who owns Pokémon.
      if (date !== undefined && owner !== undefined && (this.#ownerColumn !== undefined || this.#onConflict === 'update')) references.addDated(id.kept, date, owner);
    }
    if (this.#errors.count > 0) return;
    const row = values as string[];
    this.#builder?.add(row);
    if (this.#preview.length + this.#previewValues.length < PREVIEW_ROWS) this.#previewValues.push(row.map(detach));
  }

  /**
   * Validates a batch of records and stages what it can.
   * @throws DomainError `invalid` (the header), `too-large` (too many rows), `quota-exceeded`.
   */
  async add(batch: readonly CsvRecord[]): Promise<void> {
    for (const record of batch) {
      if (!this.#positions) {
        this.#positions = matchHeader(this.#kind, record);
        this.#headerWidth = record.fields.length;
        continue;
      }
      this.#rows += 1;
      this.#windowRows += 1;
      if (this.#rows > this.#maxRows) {
        throw new DomainError('too-large', `The file has more than ${this.#maxRows} rows; split it into several uploads.`, { maxRows: this.#maxRows });
      }
      const values = this.#checkRow(record);
      if (values) this.#track(record, values);
    }
    const windowFull = this.#references.full || this.#windowRows >= WINDOW_ROWS;
    if (this.#errors.count > 0) {
      // Nothing will be staged: stop building chunks, keep checking.
      this.#builder = undefined;
      this.#pending = [];
    } else if (this.#builder) {
      this.#pending.push(...this.#builder.take());
      // A write's worth, or whatever is pending before a window's lookups: memory never holds both.
      if (this.#pending.length >= CHUNKS_PER_PART || (windowFull && this.#pending.length > 0)) await this.#writer.write(this.#pending.splice(0));
    }
    if (windowFull) await this.#settleWindow(true);
  }

  /**
   * Settles the window's rows: the last lookup, duplicates of ids settled earlier, their errors,
   * the preview; the window's ids are recorded when `more` rows follow (the last window's would
   * never be looked up). The next rows start a new window.
   */
  async #settleWindow(more: boolean): Promise<void> {
    const references = this.#references;
    await references.lookUp(this.#db, this.#kind);
    await references.suggestSpecies(this.#db);
    const repeated = new Set<string>();
    if (references.idLines.size > 0) {
      const ids = [...references.idLines.keys()];
      const lines = await this.#earlier.firstLines(ids);
      ids.forEach((id, index) => {
        const first = lines[index];
        if (first == null) return;
        repeated.add(id);
        this.#errors.add({ line: references.idLines.get(id)!, column: 'id', value: id, detail: `repeats the id on line ${first}` }, 0);
      });
      for (const id of repeated) references.idLines.delete(id);
    }
    if (more && references.idLines.size > 0) await this.#earlier.remember(references.idLines);
    references.report(this.#errors, this.#columnOrder, repeated);
    this.#preview.push(...this.#previewValues.map((values) => this.#kind.preview(values, references.speciesNames)));
    this.#previewValues = [];
    this.#references = new References(this.#onConflict === 'error');
    this.#windowRows = 0;
  }

  /** Settles the last window and returns the chunks still to write (none once there is an error). */
  async #settle(more: boolean): Promise<ChunkText[]> {
    await this.#settleWindow(more);
    if (this.#errors.count > 0) this.#builder = undefined;
    const chunks = this.#builder ? [...this.#pending.splice(0), ...this.#builder.finish()] : [];
    this.#pending = [];
    return chunks;
  }

  /** The upload's rows so far are settled; returns the state to carry to its next piece (after writing what it staged). */
  async pause(write: (chunks: ChunkText[], state: StagerState) => Promise<void>): Promise<StagerState> {
    const chunks = await this.#settle(true);
    const state: StagerState = {
      headerWidth: this.#headerWidth,
      rows: this.#rows,
      errors: { listed: this.#errors.list(), count: this.#errors.count },
      preview: this.#preview,
      written: this.#writer.written + chunks.length,
      counted: this.#writer.countedWith(chunks),
    };
    if (this.#positions) state.positions = this.#positions;
    await write(chunks, state);
    return state;
  }

  /**
   * The file has ended: settles it and stages the rest with `meta` (from the rows' count and
   * chunks) and `also` in the same write, or throws every error.
   * @throws DomainError `invalid` (nothing staged), `quota-exceeded`.
   */
  async finish(meta: Omit<UploadMeta, 'rows' | 'chunks'>, also: RedisCommand[] = []): Promise<StagedUpload> {
    if (!this.#positions) throw invalidFile('The file is empty.', [{ line: 1, column: '', value: '', detail: 'a header row and at least one row are required' }]);
    if (this.#rows === 0) throw invalidFile('The file has a header but no rows.', [{ line: 2, column: '', value: '', detail: 'at least one row is required' }]);
    const chunks = await this.#settle(false);
    const errors = this.#errors;
    if (errors.count > 0) {
      throw invalidFile(`${errors.count} problem${errors.count === 1 ? '' : 's'} in the file; nothing was staged.`, errors.list(), errors.count);
    }
    const staged: UploadMeta = { ...meta, rows: this.#rows, chunks: this.#writer.written + chunks.length };
    await this.#writer.write(chunks, staged, also);
    return { meta: staged, preview: this.#preview };
  }
}

/**
 * Validates and stages one CSV upload sent in one request. Round trips: per window of ~8 MiB of
 * ids and dated rows, at most 200,000 rows (one for 100,000 rows), one lookup and, when another
 * window follows, one per ~4 MiB of ids to record them (and, per later window, one to look its
 * ids up among them); one Redis write per 8 MiB of staged rows (one for 100,000 rows), plus one
 * of what is pending when a window fills.
 * @throws DomainError `invalid` (file, header or rows; nothing staged), `too-large` (too many rows).
 */
export async function stageUpload(db: Database, redis: Redis, request: StageRequest): Promise<StagedUpload> {
  const { kind, onConflict, settings } = request;
  const id = crypto.randomUUID();
  const createdAt = new Date();
  const expiresAt = new Date(createdAt.getTime() + settings.ttlSeconds * 1000);
  const writer = new StagedWriter(redis, id, expiresAt, request.quota);
  const earlier = earlierIds(redis, id, { expiresAt: expiresAt.getTime(), remembered: 0, firstLine: 0 });
  const stager = new Stager(db, request, { writer, earlier });
  const forgetIds: RedisCommand[] = [['DEL', uploadKeys(id).ids]];
  try {
    for await (const batch of request.records) await stager.add(batch);
    const meta = { id, type: kind.type, onConflict, status: 'staged' as const, createdAt: createdAt.toISOString(), expiresAt: expiresAt.toISOString() };
    return await stager.finish(meta, earlier.touched ? forgetIds : []);
  } catch (error) {
    // Best effort: chunks left behind have no status key (the upload never existed) and expire with the TTL.
    await writer.discard(earlier.touched ? forgetIds : []).catch(() => {});
    throw error;
  }
}
