/**
 * CSV as `export` writes it and `upload` sends it: RFC 4180 quoting, CRLF line ends, and
 * spreadsheet formula cells neutralised the way OWASP's CSV-injection guidance says — a cell
 * that starts with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`.
 *
 * Names may start with `=`, `+`, `-` or `@` and ids with `-`, so the prefix must come off again
 * on the way in: the API strips one `'` from a cell that starts with `'` followed by a formula
 * character (see `src/domain/uploads/kinds.ts`). For that to be exact for every value, a value
 * that already starts with `'` + a formula character gets one more `'` too: export adds one
 * quote to exactly the values whose upload strips one.
 */

/** A cell a spreadsheet would read as a formula, possibly behind `'` escapes. */
const FORMULA_LIKE = /^'*[=+\-@\t\r]/;

/** The value a spreadsheet shows as text and the API reads back as `value`. */
export function neutralised(value: string): string {
  return FORMULA_LIKE.test(value) ? `'${value}` : value;
}

/** One CSV cell: neutralised, then quoted when it holds a comma, a quote or a line break. */
export function csvCell(value: string): string {
  const text = neutralised(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function csvLine(values: readonly string[]): string {
  return `${values.map(csvCell).join(',')}\r\n`;
}

/**
 * Counts the records that end in a chunk of CSV bytes, across chunks: a line feed outside
 * quotes ends a record (`""` inside quotes toggles twice, so it needs no special case).
 */
export class RecordCounter {
  records = 0;
  private inQuotes = false;
  private pending = false;

  add(bytes: Uint8Array): void {
    for (const byte of bytes) {
      if (byte === 0x22) this.inQuotes = !this.inQuotes;
      else if (byte === 0x0a && !this.inQuotes) {
        this.records += 1;
        this.pending = false;
        continue;
      }
      this.pending = true;
    }
  }

  /** A counter in the same state, to count on from here without changing this one. */
  clone(): RecordCounter {
    const copy = new RecordCounter();
    copy.records = this.records;
    copy.inQuotes = this.inQuotes;
    copy.pending = this.pending;
    return copy;
  }

  /** Records so far, counting an unterminated last one. */
  get total(): number {
    return this.records + (this.pending ? 1 : 0);
  }
}
