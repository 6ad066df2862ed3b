/**
 * The staged form of an upload's rows, shared by Redis and Postgres: rows are cut into chunks,
 * and a chunk holds, per column, the body of a Postgres array literal (`p1,p2,"Mr. Mime"`).
 * Staging stores a chunk as the JSON of those strings; the commit joins a column's pieces across
 * chunks into one array literal and sends it as a single bind parameter, which Postgres expands
 * with `unnest`. So 100,000 rows cost one parameter per column and no per-row work on commit.
 */

/** Elements Postgres would misread bare: empty, `NULL`, or holding braces, commas, quotes, backslashes or white space. */
const NEEDS_QUOTES = /^(?:null)?$|[{}",\\\s]/i;
/** The common case, settled by one test: printable ASCII that needs neither array quoting nor JSON escaping. */
const PLAIN = /^[!#-+\--[\]-z|~]+$/;
const utf8 = new TextEncoder();

/** One array-literal element: `value` as is, or double-quoted with `"` and `\` escaped. */
export function arrayElement(value: string): string {
  return NEEDS_QUOTES.test(value) ? `"${value.replace(/["\\]/g, '\\$&')}"` : value;
}

/** A Postgres array literal of `values`, for a `$n::text[]` (or `::int[]`, `::date[]`) parameter. */
export function arrayLiteral(values: Iterable<string>): string {
  return `{${Array.from(values, arrayElement).join(',')}}`;
}

const PRINTABLE = /^[\x20-\x7e]*$/;

/**
 * Bytes an element adds to a request, counted for the worst place it travels: inside a JSON
 * string that is itself inside JSON (a staged chunk in an Upstash pipeline), plus its comma.
 * There each `"` or `\` becomes four bytes.
 */
function cost(element: string): number {
  if (PRINTABLE.test(element)) return element.length + 3 * (element.match(/["\\]/g)?.length ?? 0) + 1;
  return utf8.encode(JSON.stringify(JSON.stringify(element))).length - 4 + 1;
}

/** Most bytes one chunk may cost; a part (one database request, one Redis write) is {@link CHUNKS_PER_PART} chunks. */
export const CHUNK_BYTES = 512 * 1024;
/** Chunks per database request and per Redis write: 16 × 512 KiB = 8 MiB, under both services' 10 MB request limit. */
export const CHUNKS_PER_PART = 16;

/** One staged chunk: per column, the comma-separated array-literal elements of its rows. */
export type Chunk = string[];
/** A chunk as Redis stores it, the JSON of its {@link Chunk}: made once, when the chunk is full, so its column strings are dropped at once. */
export type ChunkText = string;

/** Cuts rows into chunks of at most {@link CHUNK_BYTES}, handed over as {@link ChunkText}s. */
export class ChunkBuilder {
  readonly #width: number;
  #columns: string[][];
  #bytes = 0;
  #rows = 0;
  readonly #done: ChunkText[] = [];

  constructor(width: number) {
    this.#width = width;
    this.#columns = Array.from({ length: width }, () => []);
  }

  /** Adds a row (one value per column, in column order). */
  add(row: readonly string[]): void {
    const elements = new Array<string>(this.#width);
    let bytes = 0;
    for (let i = 0; i < this.#width; i++) {
      const value = row[i]!;
      // PLAIN values (ids, numbers, dates, most names) are their own element and cost their length.
      const plain = PLAIN.test(value) && !(value.length === 4 && value.toLowerCase() === 'null');
      const element = plain ? value : arrayElement(value);
      elements[i] = element;
      bytes += plain ? value.length + 1 : cost(element);
    }
    if (this.#rows > 0 && this.#bytes + bytes > CHUNK_BYTES) this.#close();
    for (let i = 0; i < this.#width; i++) this.#columns[i]!.push(elements[i]!);
    this.#bytes += bytes;
    this.#rows += 1;
  }

  /** Chunks completed so far, handed over (the builder forgets them). */
  take(): ChunkText[] {
    return this.#done.splice(0);
  }

  /** Every remaining chunk, including the partly filled one. */
  finish(): ChunkText[] {
    if (this.#rows > 0) this.#close();
    return this.take();
  }

  #close(): void {
    this.#done.push(JSON.stringify(this.#columns.map((column) => column.join(','))));
    this.#columns = Array.from({ length: this.#width }, () => []);
    this.#bytes = 0;
    this.#rows = 0;
  }
}

/** One array literal per column from consecutive chunks: the parameters of a commit. */
export function joinChunks(chunks: readonly Chunk[], width: number): string[] {
  return Array.from({ length: width }, (_, column) => `{${chunks.map((chunk) => chunk[column]).join(',')}}`);
}
