/**
 * Streaming RFC 4180 CSV: bytes in, records with their line numbers out, never the whole file
 * in memory.
 *
 * Written here rather than borrowed, after measuring 100,000 rows (5.3 MB) on V8: csv-parse,
 * the well-kept parser with a Web Streams API, took 0.9 s (sync) and 9 s (its TransformStream);
 * papaparse streams only from Node streams or browser Files; uDSV silently drops text after an
 * unclosed quote and skips blank lines (so line numbers drift). This reader takes ~30 ms, keeps
 * exact line numbers across quoted line breaks, and reports malformed quoting per record.
 */
import { DomainError } from '../errors.ts';

/** One record: the line it starts on (the header is line 1), its fields, and what is wrong with its quoting, if anything. */
export interface CsvRecord {
  line: number;
  fields: string[];
  /** Malformed quoting, e.g. text after a closing quote; the record's fields are still returned. */
  error?: { field: number; detail: string };
}

const QUOTE = 0x22;
const COMMA = 0x2c;
const LF = 0x0a;
const CR = 0x0d;

/** Where the reader stands between two characters. */
const State = {
  /** At the start of a field. */
  FieldStart: 0,
  /** Inside a field without quotes. */
  Unquoted: 1,
  /** Inside a quoted field. */
  Quoted: 2,
  /** Just read a quote inside a quoted field: a closing quote, or the first half of `""`. */
  QuoteInQuoted: 3,
  /** After a field's closing quote: only a comma or a line break may follow. */
  Closed: 4,
} as const;
type State = (typeof State)[keyof typeof State];

/** Fields one record may have: far more than any upload's columns, far fewer than a hostile header's millions. */
export const MAX_FIELDS = 64;
/** Characters one field may have: far more than any valid cell (100 characters and some white space). */
export const MAX_FIELD_CHARS = 16 * 1024;

/**
 * An incremental CSV reader: feed it text with {@link push}, then call {@link end}. Accepts CRLF
 * and LF line breaks (even mixed), quoted fields with commas, quotes and line breaks inside, and a
 * missing final line break. Blank lines are skipped (but counted).
 *
 * Memory per record is bounded: past {@link MAX_FIELDS} fields the rest are dropped, and past
 * {@link MAX_FIELD_CHARS} a field is cut, the record flagged either way (its `error`).
 */
export class CsvReader {
  #state: State = State.FieldStart;
  /** The line the next character is on. */
  #line = 1;
  /** The line the current record started on. */
  #recordLine = 1;
  #fields: string[] = [];
  /** The current field's text read so far, when it spans several pushes or escaped quotes. */
  #partial = '';
  #error: CsvRecord['error'];

  /** Reads `text`; returns the records it completed. */
  push(text: string): CsvRecord[] {
    const records: CsvRecord[] = [];
    const n = text.length;
    let i = 0;
    let start = 0;
    while (i < n) {
      switch (this.#state) {
        case State.FieldStart:
          if (text.charCodeAt(i) === QUOTE) {
            this.#state = State.Quoted;
            start = ++i;
          } else {
            this.#state = State.Unquoted;
            start = i;
          }
          break;
        case State.Unquoted: {
          let c = text.charCodeAt(i);
          while (c !== COMMA && c !== LF && ++i < n) c = text.charCodeAt(i);
          if (i === n) {
            this.#append(text.slice(start, n));
            break;
          }
          this.#addField(this.#partial + text.slice(start, i), c === LF);
          if (c === LF) this.#endRecord(records);
          i++;
          break;
        }
        case State.Quoted: {
          const quote = text.indexOf('"', i);
          const end = quote === -1 ? n : quote;
          this.#countLines(text, i, end);
          this.#append(text.slice(i, end));
          i = end;
          if (quote !== -1) {
            this.#state = State.QuoteInQuoted;
            i++;
          }
          break;
        }
        case State.QuoteInQuoted:
          if (text.charCodeAt(i) === QUOTE) {
            this.#append('"');
            this.#state = State.Quoted;
            i++;
          } else {
            this.#state = State.Closed;
          }
          break;
        case State.Closed: {
          const c = text.charCodeAt(i);
          if (c === COMMA || c === LF) {
            this.#addField(this.#partial, false);
            if (c === LF) this.#endRecord(records);
          } else if (c !== CR) {
            // `"abc"x`: keep the text (nothing is lost) but flag the record.
            this.#error ??= { field: this.#fields.length, detail: 'has text after its closing quote; quote the whole field' };
            this.#state = State.Unquoted;
            start = i;
            break;
          }
          i++;
          break;
        }
      }
    }
    return records;
  }

  /** Finishes the input: returns the last record, if the text did not end with a line break. */
  end(): CsvRecord[] {
    const records: CsvRecord[] = [];
    if (this.#state === State.Quoted) {
      this.#error ??= { field: this.#fields.length, detail: 'opens a quote that is never closed' };
    }
    if (this.#state !== State.FieldStart || this.#fields.length > 0) {
      this.#addField(this.#partial, this.#state === State.Unquoted);
      this.#endRecord(records);
    }
    return records;
  }

  /** Adds text to the current field, cutting it at {@link MAX_FIELD_CHARS}. */
  #append(piece: string): void {
    this.#partial += piece;
    if (this.#partial.length > MAX_FIELD_CHARS) this.#partial = this.#tooLong(this.#partial);
  }

  #tooLong(value: string): string {
    this.#error ??= { field: Math.min(this.#fields.length, MAX_FIELDS), detail: `is longer than ${MAX_FIELD_CHARS} characters` };
    return value.slice(0, MAX_FIELD_CHARS);
  }

  /** Ends the current field; an unquoted field that ends a line loses the CR of a CRLF. Fields past {@link MAX_FIELDS} are dropped. */
  #addField(value: string, endsLine: boolean): void {
    let field = endsLine && value.charCodeAt(value.length - 1) === CR ? value.slice(0, -1) : value;
    if (field.length > MAX_FIELD_CHARS) field = this.#tooLong(field);
    if (this.#fields.length < MAX_FIELDS) this.#fields.push(field);
    else this.#error ??= { field: MAX_FIELDS, detail: `has more than ${MAX_FIELDS} fields` };
    this.#partial = '';
    this.#state = State.FieldStart;
  }

  #endRecord(records: CsvRecord[]): void {
    const fields = this.#fields;
    const blank = fields.length === 1 && fields[0] === '' && !this.#error;
    if (!blank) records.push(this.#error ? { line: this.#recordLine, fields, error: this.#error } : { line: this.#recordLine, fields });
    this.#fields = [];
    this.#error = undefined;
    this.#line += 1;
    this.#recordLine = this.#line;
  }

  /** Counts the line breaks inside a quoted field, so later records keep their true line numbers. */
  #countLines(text: string, from: number, to: number): void {
    for (let at = text.indexOf('\n', from); at !== -1 && at < to; at = text.indexOf('\n', at + 1)) this.#line += 1;
  }
}

/** Text pieces are cut to this many characters so a record batch stays small whatever the body's chunking. */
const PIECE = 64 * 1024;

/**
 * Decodes a UTF-8 body (dropping a BOM) into text pieces, refusing it with 413 once it passes
 * `maxBytes` and with 422 if it is not UTF-8.
 */
export async function* utf8Text(body: ReadableStream<Uint8Array>, maxBytes: number): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
  let bytes = 0;
  let lineBreaks = 0;
  const countLineBreaks = (text: string) => {
    for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', at + 1)) lineBreaks += 1;
  };
  const decode = (chunk?: Uint8Array) => {
    try {
      const text = chunk ? decoder.decode(chunk, { stream: true }) : decoder.decode();
      countLineBreaks(text);
      return text;
    } catch {
      // Where in this chunk the bad bytes start: a lenient decode marks them with U+FFFD.
      const lenient = chunk ? new TextDecoder().decode(chunk) : '';
      const bad = lenient.indexOf('\uFFFD');
      countLineBreaks(bad === -1 ? '' : lenient.slice(0, bad));
      const line = lineBreaks + 1;
      const detail = 'is not UTF-8 text; save the file as UTF-8 CSV';
      throw new DomainError('invalid', `The file is not UTF-8 text (on or after line ${line}, near byte ${bytes}).`, {
        errors: [{ line, column: '', value: '', detail }],
        errorCount: 1,
      });
    }
  };
  // Not cancelled when refused: the route reads the rest before answering (see drainRefusedBody).
  for await (const chunk of body.values({ preventCancel: true })) {
    bytes += chunk.byteLength;
    if (bytes > maxBytes) throw new DomainError('too-large', `The file is larger than ${maxBytes} bytes.`, { maxBytes });
    const text = decode(chunk);
    for (let at = 0; at < text.length; at += PIECE) yield text.slice(at, at + PIECE);
  }
  const rest = decode();
  if (rest) yield rest;
}

/** The records of a UTF-8 CSV body, a batch at a time (see {@link utf8Text} for the limits). */
export async function* csvRecords(body: ReadableStream<Uint8Array>, maxBytes: number): AsyncGenerator<CsvRecord[]> {
  const reader = new CsvReader();
  for await (const text of utf8Text(body, maxBytes)) {
    const records = reader.push(text);
    if (records.length > 0) yield records;
  }
  const last = reader.end();
  if (last.length > 0) yield last;
}
